import { OciLayout } from "/work/wt/rt/lib/oci/layout.ts";
const l = await OciLayout.open(Deno.args[0]);
const idx = await l.index();
idx.manifests[0].annotations = { "org.opencontainers.image.ref.name": Deno.args[1] };
await Deno.writeTextFile(Deno.args[0] + "/index.json", JSON.stringify(idx));
