/**
 * The Dangerzone side of the archive, rebuilt in tests from what its
 * updater does (freedomofpress/dangerzone `dangerzone/updater/signatures.py`):
 *
 * - {@linkcode cosignSaveLayout}: the layout `cosign save IMAGE@DIGEST`
 *   writes (go-containerregistry: `oci-layout`, a 3-space-indented
 *   `index.json` whose entries carry only a `kind` annotation, blobs);
 * - {@linkcode dangerzoneTar}: `prepare_airgapped_archive`'s next steps,
 *   run by Python itself (the full index to `dangerzone.json` with
 *   `json.dump`, `index.json` reduced to the image entries, then
 *   `tarfile.add(dir, arcname=".")`);
 * - {@linkcode dangerzoneChecks}: what `upgrade_container_image_airgapped`
 *   checks before it runs `podman load` (`InvalidImageArchive`,
 *   `InvalidDangerzoneManifest`, `SignatureExtractionError`), and the
 *   signatures it converts from the `/sigs` manifest's layers.
 *
 * @module
 */

import { join } from "node:path";
import { createTarDecoder } from "modern-tar";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { OCI_INDEX } from "../../lib/oci/media_types.ts";
import { encodeBase64 } from "../../lib/encoding/base64.ts";
import { jsonEqual } from "../../lib/archive/layout_tar.ts";

const dec = new TextDecoder();

/** Write what `cosign save REPO@DIGEST --dir DIR` writes for a single-platform manifest. */
export async function cosignSaveLayout(
  client: RegistryClient,
  repo: string,
  digest: string,
  dir: string,
): Promise<void> {
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const put = (d: string, bytes: Uint8Array) =>
    Deno.writeFile(join(dir, "blobs", "sha256", d.slice(7)), bytes);
  const entries: Record<string, unknown>[] = [];
  const save = async (reference: string, kind: string) => {
    const m = await client.getManifest(repo, reference);
    await put(m.digest, m.bytes);
    const doc = JSON.parse(dec.decode(m.bytes));
    for (const b of [doc.config, ...doc.layers]) {
      await put(b.digest, await client.getBlobBytes(repo, b));
    }
    entries.push({
      mediaType: m.mediaType,
      size: m.size,
      digest: m.digest,
      annotations: { kind: `dev.cosignproject.cosign/${kind}` },
    });
  };
  await save(digest, "image");
  const tag = `sha256-${digest.slice(7)}`;
  await save(`${tag}.sig`, "sigs");
  if (await client.headManifest(repo, `${tag}.att`) !== undefined) await save(`${tag}.att`, "atts");
  await Deno.writeTextFile(
    join(dir, "index.json"),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }, null, 3),
  );
  await Deno.writeTextFile(join(dir, "oci-layout"), '{\n    "imageLayoutVersion": "1.0.0"\n}');
}

/** The rest of Dangerzone's `prepare-archive`, by Python: dangerzone.json, images-only index.json, tar. */
const PREPARE = `
import json, os, sys, tarfile
layout, destination = sys.argv[1], sys.argv[2]
with open(os.path.join(layout, "index.json")) as f:
    full = json.load(f)
with open(os.path.join(layout, "dangerzone.json"), "w") as f:
    json.dump(full, f)
kinds = ("dev.cosignproject.cosign/imageIndex", "dev.cosignproject.cosign/image")
images = dict(full)
images["manifests"] = [m for m in full["manifests"] if m["annotations"].get("kind") in kinds]
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(images, f)
with tarfile.open(destination, "w") as archive:
    archive.add(layout, arcname=".")
`;

/** Turn a `cosign save` layout into the archive Dangerzone's `prepare-archive` writes. */
export async function dangerzoneTar(layout: string, destination: string): Promise<void> {
  const p = await new Deno.Command("python3", {
    args: ["-c", PREPARE, layout, destination],
    stderr: "piped",
  }).output();
  if (!p.success) throw new Error(`python3: ${dec.decode(p.stderr)}`);
}

/** Member names (as Python's `TarFile.getnames()` gives them: directories without '/') and contents. */
export async function tarMembers(path: string): Promise<Map<string, Uint8Array | undefined>> {
  const out = new Map<string, Uint8Array | undefined>();
  const f = await Deno.open(path);
  for await (const e of f.readable.pipeThrough(createTarDecoder({ strict: true }))) {
    if (e.header.type === "directory") {
      out.set(e.header.name.replace(/\/+$/, ""), undefined);
      await e.body.cancel();
    } else {
      out.set(e.header.name, new Uint8Array(await new Response(e.body).arrayBuffer()));
    }
  }
  return out;
}

/** What Dangerzone's `load-archive` would go on to install. */
export interface DangerzoneView {
  /** Member names in tar order. */
  names: string[];
  /** The signatures it converts (`cosign download signature` format). */
  signatures: Record<string, unknown>[];
  /** The name it tags the image with (the first payload's docker-reference). */
  imageName: string;
  /** The digest it tags and verifies (`sha256:` + hex). */
  imageDigest: string;
}

/**
 * Dangerzone's checks of an archive, in its order, before anything reaches
 * the runtime. Throws an Error named after Dangerzone's exception.
 */
export async function dangerzoneChecks(path: string): Promise<DangerzoneView> {
  const members = await tarMembers(path);
  const names = [...members.keys()];
  const fail = (name: string, why: string) => {
    const e = new Error(`${name}: ${why}`);
    e.name = name;
    return e;
  };
  const extract = (name: string) => {
    const b = members.get(name);
    if (!b) throw fail("KeyError", `filename '${name}' not found`);
    return b;
  };
  if (!members.has("./dangerzone.json")) throw fail("InvalidImageArchive", "no ./dangerzone.json");
  const dz = JSON.parse(dec.decode(extract("./dangerzone.json")));
  const index = JSON.parse(dec.decode(extract("./index.json")));
  const kinds = ["dev.cosignproject.cosign/imageIndex", "dev.cosignproject.cosign/image"];
  // manifest["annotations"] must exist on every entry (a KeyError in Python otherwise).
  const expected = {
    ...dz,
    manifests: dz.manifests.filter((m: { annotations: Record<string, string> }) => {
      if (!m.annotations) throw fail("KeyError", "'annotations'");
      return kinds.includes(m.annotations.kind);
    }),
  };
  if (!jsonEqual(expected, index)) {
    throw fail("InvalidDangerzoneManifest", "images-only(dangerzone.json) != index.json");
  }
  const sigEntry = dz.manifests.find((m: { annotations: Record<string, string> }) =>
    m.annotations.kind === "dev.cosignproject.cosign/sigs"
  );
  if (!sigEntry) throw fail("SignatureExtractionError", "no /sigs entry");
  const blob = (digest: string) => extract(`./blobs/sha256/${digest.replace("sha256:", "")}`);
  const sigManifest = JSON.parse(dec.decode(blob(sigEntry.digest)));
  const layers: { digest: string; annotations: Record<string, string> }[] = sigManifest.layers ??
    [];
  const signatures = layers.map((layer) => {
    const signature = layer.annotations["dev.cosignproject.cosign/signature"];
    const bundleText = layer.annotations["dev.sigstore.cosign/bundle"];
    if (signature === undefined || bundleText === undefined) {
      throw fail("KeyError", "a /sigs layer lacks its signature or bundle annotation");
    }
    const bundle = JSON.parse(bundleText);
    const body = JSON.parse(
      dec.decode(Uint8Array.from(atob(bundle.Payload.body), (c) => c.charCodeAt(0))),
    );
    return {
      Base64Signature: body.spec.signature.content,
      Payload: encodeBase64(blob(layer.digest)),
      Cert: null,
      Chain: null,
      Bundle: bundle,
      RFC3161Timestamp: null,
    };
  });
  if (signatures.length === 0) throw fail("SignatureExtractionError", "no signature layers");
  const payload = JSON.parse(dec.decode(blob(layers[0].digest)));
  const imageName = payload.critical.identity["docker-reference"];
  if (expected.manifests.length > 1) {
    throw fail("InvalidDangerzoneManifest", "Contains more than one manifest");
  }
  return { names, signatures, imageName, imageDigest: expected.manifests[0].digest };
}
