/**
 * Runs mutants in a worker under a watchdog and summarizes the outcomes.
 *
 * Each mutant is sent to a Web Worker; the main thread waits for its
 * verdict at most `budgetMs`. A worker that does not answer in time is
 * terminated (a synchronous verification that never returns cannot be
 * interrupted any other way), the mutant is recorded as hung, and a fresh
 * worker continues with the next one. The budget is a hang detector, not a
 * speed assertion: it is orders of magnitude above a normal verification.
 *
 * @module
 */

import type { Mutant } from "./mutant.ts";
import type { Outcome, Runnable, WorkerRequest, WorkerResponse } from "./campaign_protocol.ts";

/** Default per-mutant budget before the watchdog declares a hang. */
export const DEFAULT_BUDGET_MS = 20_000;
const INIT_TIMEOUT_MS = 120_000;

/** One mutant's outcome. */
export interface MutantResult {
  id: number;
  family: string;
  expected: Mutant["expected"];
  outcome: Outcome;
  code?: string;
  exitCode?: number;
  detail?: string;
  ms: number;
}

type ResultMessage = Extract<WorkerResponse, { type: "result" }>;

class WorkerHost {
  #worker: Worker;
  #waiting: ((m: WorkerResponse) => void) | undefined;

  private constructor() {
    this.#worker = new Worker(new URL("./campaign_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<WorkerResponse>) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.(e.data);
    };
    this.#worker.onerror = (e) => {
      e.preventDefault();
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.({ type: "fatal", message: e.message });
    };
  }

  /** Send and wait at most `ms`; undefined on timeout. */
  #ask(req: WorkerRequest, ms: number): Promise<WorkerResponse | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve(undefined);
      }, ms);
      this.#waiting = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#worker.postMessage(req);
    });
  }

  static async start(): Promise<WorkerHost> {
    const host = new WorkerHost();
    const r = await host.#ask({ type: "init" }, INIT_TIMEOUT_MS);
    if (r?.type !== "ready") {
      host.terminate();
      throw new Error(
        `campaign worker did not start: ${r?.type === "fatal" ? r.message : "timeout"}`,
      );
    }
    return host;
  }

  /** Run one mutant; undefined when the watchdog fired. */
  async run(m: Runnable, budgetMs: number): Promise<ResultMessage | string | undefined> {
    const r = await this.#ask({ type: "run", mutant: m }, budgetMs);
    if (r === undefined) return undefined;
    if (r.type === "result") return r;
    return r.type === "fatal" ? r.message : `unexpected ${r.type}`;
  }

  terminate(): void {
    this.#worker.terminate();
  }
}

/** Options of {@linkcode runMutants}. */
export interface RunOptions {
  /** Per-mutant watchdog budget (default {@linkcode DEFAULT_BUDGET_MS}). */
  budgetMs?: number;
  /** Called after each mutant. */
  onResult?: (r: MutantResult, done: number, total: number) => void;
}

/** Run every mutant (controls included) and return one result each, in order. */
export async function runMutants(
  mutants: readonly Runnable[],
  opts: RunOptions = {},
): Promise<MutantResult[]> {
  const budget = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  const results: MutantResult[] = [];
  let host = await WorkerHost.start();
  try {
    for (const m of mutants) {
      const started = performance.now();
      const r = await host.run(m, budget);
      let result: MutantResult;
      const base = { id: m.id, family: m.family, expected: m.expected };
      if (r === undefined || typeof r === "string") {
        host.terminate();
        result = r === undefined
          ? { ...base, outcome: "hung", detail: `no verdict within ${budget} ms`, ms: budget }
          : { ...base, outcome: "crashed", detail: `worker died: ${r}`, ms: 0 };
        host = await WorkerHost.start();
      } else {
        result = {
          ...base,
          outcome: r.outcome,
          ...(r.code !== undefined ? { code: r.code } : {}),
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
          ...(r.detail !== undefined ? { detail: r.detail } : {}),
          ms: r.ms || Math.round(performance.now() - started),
        };
      }
      results.push(result);
      opts.onResult?.(result, results.length, mutants.length);
    }
  } finally {
    host.terminate();
  }
  return results;
}

/** A row of the report table. */
export interface FamilyRow {
  family: string;
  tried: number;
  rejected: number;
  /** Accepted although a real change (a finding). */
  accepted: number;
  crashed: number;
  hung: number;
  /** Classified no-ops (may be accepted or rejected). */
  noop: number;
  noopAccepted: number;
  /** Fault cases: completed correctly after retries (undefined for mutants). */
  recovered?: number;
  /** Wrong bytes stored / temp files left (fault cases); undefined for pure verification. */
  dataLost?: number;
}

/** Rows per family (in `order`, then any other family), plus a total row. */
export function summarize(results: readonly MutantResult[], order: readonly string[] = []) {
  const rows = new Map<string, FamilyRow>();
  const row = (family: string) => {
    let r = rows.get(family);
    if (!r) {
      rows.set(
        family,
        r = {
          family,
          tried: 0,
          rejected: 0,
          accepted: 0,
          crashed: 0,
          hung: 0,
          noop: 0,
          noopAccepted: 0,
        },
      );
    }
    return r;
  };
  for (const f of order) row(f);
  for (const res of results) {
    const r = row(res.family);
    r.tried++;
    if (res.outcome === "crashed") r.crashed++;
    else if (res.outcome === "hung") r.hung++;
    else if (res.expected === "either") {
      r.noop++;
      if (res.outcome === "accepted") r.noopAccepted++;
    } else if (res.outcome === "rejected") r.rejected++;
    else r.accepted++;
  }
  const list = [...rows.values()].filter((r) => r.tried > 0);
  const total: FamilyRow = {
    family: "total",
    tried: 0,
    rejected: 0,
    accepted: 0,
    crashed: 0,
    hung: 0,
    noop: 0,
    noopAccepted: 0,
  };
  for (const r of list) {
    if (r.family === "control") continue; // controls must be accepted: not part of the total
    for (
      const k of [
        "tried",
        "rejected",
        "accepted",
        "crashed",
        "hung",
        "noop",
        "noopAccepted",
      ] as const
    ) {
      total[k] += r[k];
    }
  }
  return { rows: list, total };
}

/**
 * Results that are findings: a control that was not accepted, a real mutant
 * that was accepted, any crash, any hang.
 */
export function findings(results: readonly MutantResult[]): MutantResult[] {
  return results.filter((r) =>
    r.outcome === "crashed" || r.outcome === "hung" ||
    (r.expected === "accept" && r.outcome !== "accepted") ||
    (r.expected === "reject" && r.outcome === "accepted")
  );
}

/** Markdown table of rows (`—` where a column does not apply). */
export function formatTable(rows: readonly FamilyRow[], total?: FamilyRow): string {
  const head =
    "| case family | tried | rejected | accepted | recovered | crashed | hung | no-op (accepted) | data lost |";
  const sep = "|---|--:|--:|--:|--:|--:|--:|--:|--:|";
  const line = (r: FamilyRow, bold = false) => {
    const b = (s: string | number | undefined) =>
      s === undefined ? "—" : bold ? `**${s}**` : String(s);
    const cells = [
      r.family,
      r.tried,
      r.rejected,
      r.accepted,
      r.recovered,
      r.crashed,
      r.hung,
      r.noop ? `${r.noop} (${r.noopAccepted})` : 0,
      r.dataLost,
    ];
    return `| ${cells.map(b).join(" | ")} |`;
  };
  return [head, sep, ...rows.map((r) => line(r)), ...(total ? [line(total, true)] : [])].join(
    "\n",
  );
}
