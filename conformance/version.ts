/**
 * The Connect conformance suite this project is tested against: the Go module
 * whose protos `deno task gen` compiles into `gen/connectrpc/conformance/v1`
 * and whose `connectconformance` runner `deno task conformance` drives.
 * `.ci/run` reads the version from this file for `go install`.
 *
 * @module
 */

/** Go module path of the conformance suite. */
export const CONFORMANCE_MODULE = "connectrpc.com/conformance";
/** Version of the module and of the `connectconformance` runner. */
export const CONFORMANCE_VERSION = "v1.0.7";
/** `go install` argument of the runner. */
export const CONFORMANCE_INSTALL =
  `${CONFORMANCE_MODULE}/cmd/connectconformance@${CONFORMANCE_VERSION}`;
