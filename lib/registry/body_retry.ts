/**
 * A small document whose transfer broke mid-body is fetched again.
 *
 * @module
 */

import { NetworkError } from "../errors/errors.ts";
import { isDeadline } from "./timing.ts";

/** Attempts for a small document whose transfer breaks mid-body. */
const BODY_ATTEMPTS = 3;

/**
 * Run `fn` again (up to {@linkcode BODY_ATTEMPTS} times) when the
 * connection breaks mid-body; a missed deadline is not retried.
 */
export async function retryBrokenBody<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof NetworkError) || isDeadline(e) || attempt >= BODY_ATTEMPTS) {
        throw e;
      }
    }
  }
}
