/**
 * The error classes of `tuf-js@6.0.2` that a fetcher must throw (not exported
 * from its entry point), pinned here and only here.
 *
 * @module
 */

export { DownloadHTTPError, DownloadLengthMismatchError } from "npm:tuf-js@6.0.2/dist/error.js";
