import { buildImage } from "/work/wt/rt/lib/image/build.ts";
import { OciLayout } from "/work/wt/rt/lib/oci/layout.ts";
import { OCI_INDEX } from "/work/wt/rt/lib/registry/media_types.ts";
const dir = Deno.args[0];
const mode = Deno.args[1]; // "index" or "single"
const amd = await buildImage({ files: { v: "exp1" }, architecture: "amd64" });
const arm = await buildImage({ files: { v: "exp1", a: "arm" }, architecture: "arm64" });
const l = await OciLayout.openOrCreate(dir);
for (const i of [amd, arm]) {
  await l.writeBlobBytes(i.config); await l.writeBlobBytes(i.layers[0].bytes); await l.writeBlobBytes(i.manifest);
}
const index = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
  { ...amd.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
  { ...arm.manifestDescriptor, platform: { os: "linux", architecture: "arm64" } }] }));
const id = await l.writeBlobBytes(index);
if (mode === "index") await l.setRef("latest", { mediaType: OCI_INDEX, ...id }, {"io.containerd.image.name":"example.com/dz/exp:latest"});
else await l.setRef("latest", amd.manifestDescriptor, {"io.containerd.image.name":"example.com/dz/exp:latest"});
console.log(JSON.stringify({ index: id.digest, amd: amd.manifestDescriptor.digest, amdConfig: amd.configDescriptor.digest }));
