import assert from "node:assert/strict";
import { LocalStateError, RollbackError } from "../errors/errors.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import {
  assertAboveFloor,
  assertNotRollback,
  type Candidate,
  type ImageState,
  imageStatePath,
  nextImageState,
  readImageState,
  writeImageState,
} from "./rollback_state.ts";
import {
  floorFor,
  LAST_KNOWN_LOG_INDEX,
  lastLogIndexPath,
  PUBLIC_GOOD_REKOR_LOG_ID,
  readLastLogIndex,
  writeLastLogIndex,
} from "./last_log_index.ts";

const LOG = PUBLIC_GOOD_REKOR_LOG_ID;
const OTHER_LOG = "ab".repeat(32);
const REPO = "ghcr.io/freedomofpress/dangerzone/v1";
const D = (c: string) => `sha256:${c.repeat(64)}`;
const T = (s: string) => Date.parse(s);

function installed(over: Partial<ImageState> = {}): ImageState {
  return {
    version: 2,
    repository: REPO,
    digest: D("1"),
    created: "2025-06-01T00:00:00.000Z",
    logs: { [LOG]: { logIndex: 100, integratedTime: 1000 } },
    replaced: [],
    ...over,
  };
}

function candidate(over: Partial<Candidate> = {}): Candidate {
  return { digest: D("2"), positions: [], ...over };
}

Deno.test("rollback rule 2: an older build is refused whatever its log positions; a newer one passes", () => {
  const s = installed();
  // The attack: an old image's signature re-logged (twin) gets a NEW, higher index.
  assert.throws(
    () =>
      assertNotRollback(
        s,
        candidate({
          created: T("2025-01-01T00:00:00Z"),
          positions: [{ logID: LOG, logIndex: 999_999, integratedTime: 9_999_999 }],
        }),
      ),
    (e: unknown) => e instanceof RollbackError && /built 2025-01-01/.test(e.message),
  );
  // A newer build is an upgrade even when its entries are lower than the installed image's.
  assertNotRollback(
    s,
    candidate({
      created: T("2025-07-01T00:00:00Z"),
      positions: [{ logID: LOG, logIndex: 50, integratedTime: 500 }],
    }),
  );
});

Deno.test("rollback rule 3: equal or missing build times fall back to log positions", () => {
  const s = installed();
  const same = T("2025-06-01T00:00:00Z");
  assert.throws(
    () =>
      assertNotRollback(
        s,
        candidate({
          created: same,
          positions: [{ logID: LOG, logIndex: 99, integratedTime: 999 }],
        }),
      ),
    RollbackError,
  );
  assert.throws(
    () =>
      assertNotRollback(
        s,
        candidate({ positions: [{ logID: LOG, logIndex: 100, integratedTime: 1 }] }),
      ),
    RollbackError,
  );
  assertNotRollback(
    s,
    candidate({ positions: [{ logID: LOG, logIndex: 101, integratedTime: 1001 }] }),
  );
  // A log the state never saw is no bypass: compared by authenticated time.
  assert.throws(
    () =>
      assertNotRollback(
        s,
        candidate({ positions: [{ logID: OTHER_LOG, logIndex: 5, integratedTime: 900 }] }),
      ),
    (e: unknown) => e instanceof RollbackError && /logged/.test(e.message),
  );
  assertNotRollback(
    s,
    candidate({ positions: [{ logID: OTHER_LOG, logIndex: 5, integratedTime: 1001 }] }),
  );
  // ...and with no authenticated time at all (a proof-only entry) it cannot be ordered.
  assert.throws(
    () =>
      assertNotRollback(
        s,
        candidate({ positions: [{ logID: OTHER_LOG, logIndex: 5, integratedTime: 0 }] }),
      ),
    (e: unknown) => e instanceof RollbackError && /no authenticated time/.test(e.message),
  );
});

Deno.test("rollback rule 4: a digest once replaced is refused; the installed one never is", () => {
  const s = installed({ replaced: [D("0")] });
  assert.throws(
    () => assertNotRollback(s, candidate({ digest: D("0"), created: T("2030-01-01T00:00:00Z") })),
    (e: unknown) => e instanceof RollbackError && /replaced on this machine/.test(e.message),
  );
  assertNotRollback(s, candidate({ digest: D("1"), created: T("2000-01-01T00:00:00Z") }));
});

Deno.test("rollback rule 5: a floor in one log, or in any log (Dangerzone's file)", () => {
  const inLog = { logIndex: 500, logID: LOG, source: "test" };
  assert.throws(
    () => assertAboveFloor([{ logID: LOG, logIndex: 499, integratedTime: 1 }], inLog),
    (e: unknown) => e instanceof RollbackError && /below the floor 500/.test(e.message),
  );
  assertAboveFloor([{ logID: LOG, logIndex: 500, integratedTime: 1 }], inLog);
  // A floor for one log says nothing about another.
  assertAboveFloor([{ logID: OTHER_LOG, logIndex: 1, integratedTime: 1 }], inLog);
  const anyLog = { logIndex: 500, source: "last_log_index" };
  assert.throws(
    () => assertAboveFloor([{ logID: OTHER_LOG, logIndex: 1, integratedTime: 1 }], anyLog),
    RollbackError,
  );
});

Deno.test("next state: earliest positions, replaced digests, a reinstall keeps the recorded state", () => {
  const first = nextImageState(REPO, undefined, {
    digest: D("1"),
    created: T("2025-06-01T00:00:00Z"),
    positions: [
      { logID: LOG, logIndex: 120, integratedTime: 1200 },
      { logID: LOG, logIndex: 100, integratedTime: 1000 },
    ],
  });
  assert.deepEqual(first.logs, { [LOG]: { logIndex: 100, integratedTime: 1000 } });
  assert.equal(first.created, "2025-06-01T00:00:00.000Z");
  // The same digest again, with a re-logged twin at a higher index: nothing moves.
  const again = nextImageState(REPO, first, {
    digest: D("1"),
    positions: [{ logID: LOG, logIndex: 9000, integratedTime: 90000 }],
  });
  assert.deepEqual(again, first);
  const second = nextImageState(REPO, first, { digest: D("2"), positions: [] });
  assert.deepEqual(second.replaced, [D("1")]);
  // Forced back to a replaced digest: it leaves the list; the one stepped back from is not listed.
  const back = nextImageState(REPO, second, { digest: D("1"), positions: [] }, { forced: true });
  assert.deepEqual(back.replaced, []);
});

/** Corrupt local state is refused as tampered, never read as absent. */
const tampered = (e: unknown) => e instanceof LocalStateError && e.code === "LOCAL_STATE_TAMPERED";

Deno.test("image state round-trips and a corrupt one is an error, never absent", async () => {
  const dataDir = await Deno.makeTempDir();
  assert.equal(await readImageState(dataDir, REPO), undefined);
  await writeImageState(dataDir, installed());
  assert.deepEqual(await readImageState(dataDir, REPO), installed());
  await writeFileAtomic(imageStatePath(dataDir, REPO), "{garbage");
  await assert.rejects(readImageState(dataDir, REPO), tampered);
  await writeFileAtomic(
    imageStatePath(dataDir, REPO),
    JSON.stringify(installed({ logs: { [LOG]: { logIndex: -1, integratedTime: 0 } } })),
  );
  await assert.rejects(readImageState(dataDir, REPO), tampered);
  // Another repository's state is not this one's.
  await writeFileAtomic(
    imageStatePath(dataDir, REPO),
    JSON.stringify(installed({ repository: "x/y" })),
  );
  await assert.rejects(readImageState(dataDir, REPO), tampered);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("last_log_index: Dangerzone's floor, ours, and a foreign value", async () => {
  const dataDir = await Deno.makeTempDir();
  // Nothing at all: Dangerzone's LAST_KNOWN_LOG_INDEX in the public-good log.
  assert.deepEqual(await floorFor(dataDir, false), {
    logIndex: LAST_KNOWN_LOG_INDEX,
    logID: PUBLIC_GOOD_REKOR_LOG_ID,
    source: "Dangerzone's LAST_KNOWN_LOG_INDEX",
  });
  assert.equal(await floorFor(dataDir, true), undefined);
  // Written by us: our own state is authoritative.
  await writeLastLogIndex(dataDir, 42);
  assert.equal(await Deno.readTextFile(lastLogIndexPath(dataDir)), "42");
  assert.equal(await readLastLogIndex(dataDir), 42);
  assert.equal(await floorFor(dataDir, true), undefined);
  // Dangerzone moved it: a floor in any log, even with our own state.
  await Deno.writeTextFile(lastLogIndexPath(dataDir), "9000000000\n");
  assert.deepEqual(await floorFor(dataDir, true), {
    logIndex: 9000000000,
    source: lastLogIndexPath(dataDir),
  });
  await Deno.writeTextFile(lastLogIndexPath(dataDir), "nine");
  await assert.rejects(readLastLogIndex(dataDir), tampered);
  await Deno.remove(dataDir, { recursive: true });
});
