import { startSigningLab } from "/work/main/tests/helpers/signed_images.ts";
import { RegistrySource } from "/work/main/lib/image/source.ts";
import { fetchCosignSignatures } from "/work/main/lib/image/signatures.ts";
import { verifyCosignSignatures } from "/work/main/lib/signatures/verify.ts";
Deno.test({sanitizeResources:false,sanitizeOps:false,name:"dbg", async fn(){
  await using lab = await startSigningLab();
  const d1 = await lab.push("a/b", { v: "1" }, "latest");
  console.log(await lab.sign("a/b", d1, lab.otherSigner));
  console.log(await lab.sign("a/b", d1));
  console.log(await lab.sign("a/b", d1));
  const sigs = await fetchCosignSignatures(new RegistrySource(lab.client, "a/b", {}), d1);
  console.log(sigs.length, JSON.stringify(verifyCosignSignatures(sigs, d1, {trustedRoot: lab.trustedRoot, key: lab.key}).reports.map(r => r.ok ? r.result.tlog : r)));
}});
