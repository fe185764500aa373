/**
 * Messages between the campaign runner and its worker.
 *
 * @module
 */

import type { Mutant, MutantBase } from "./mutant.ts";

/** Harness self-test: a mutant that accepts, rejects, crashes or hangs on purpose. */
export interface ProbeMutant extends MutantBase {
  target: "probe";
  behavior: "accept" | "reject" | "crash" | "hang";
}

/** Anything the worker can run. */
export type Runnable = Mutant | ProbeMutant;

/** Main → worker. */
export type WorkerRequest = { type: "init" } | { type: "run"; mutant: Runnable };

/** How one mutant ended. */
export type Outcome = "accepted" | "rejected" | "crashed" | "hung";

/** Worker → main. */
export type WorkerResponse =
  | { type: "ready" }
  | { type: "fatal"; message: string }
  | {
    type: "result";
    id: number;
    outcome: Exclude<Outcome, "hung">;
    /** Error code(s) of a rejection. */
    code?: string;
    /** Exit status the rejection maps to. */
    exitCode?: number;
    detail?: string;
    ms: number;
  };
