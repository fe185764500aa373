/**
 * The rollback attack families of `deno task reliability`, in CI: every
 * attack refused, every control accepted, nothing crashed.
 */
import assert from "node:assert/strict";
import { DEFAULT_SEED } from "./mutants.ts";
import { ROLLBACK_FAMILIES, runRollbackCases } from "./rollback_attacks.ts";

Deno.test({
  name: "reliability: rollback attack families (real Rekor entries) are all refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { rows, problems } = await runRollbackCases(DEFAULT_SEED, 3);
    assert.deepEqual(problems, []);
    assert.deepEqual(rows.map((r) => r.family), [...ROLLBACK_FAMILIES]);
    for (const r of rows) {
      assert.equal(r.tried, 3, r.family);
      assert.equal(r.accepted, 0, r.family);
      if (r.family === "rollback.control") assert.equal(r.rejected, 0);
      else assert.equal(r.rejected, 3, r.family);
    }
  },
});
