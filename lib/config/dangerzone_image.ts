/**
 * Dangerzone's container image: the default of `upgrade`, `prepare-archive`
 * and `store-signatures`, and the names its signatures may carry.
 *
 * @module
 */

/** The image Dangerzone installs today. */
export const DEFAULT_IMAGE = "ghcr.io/freedomofpress/dangerzone/v1";

/** Repository names Dangerzone's image was published under before (also accepted as signed identities). */
export const HISTORICAL_REPOSITORIES: readonly string[] = [
  "ghcr.io/freedomofpress/dangerzone/dangerzone",
];
