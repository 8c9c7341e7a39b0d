/**
 * Typed event tracking for the Charter contracts.
 *
 * ```ts
 * import { Tracker } from "charter-events";
 * const tracker = new Tracker({ endpoint: "http://localhost:8080" });
 * tracker.track("com.acme.shop/payment/1", { ... }); // the data type follows from the schema string
 * await tracker.flush();
 * ```
 */

export { Tracker } from "./tracker.js";
export type { FailedEvent, FailureReason, FetchLike, TrackerFailure, TrackerOptions } from "./tracker.js";
export type * from "./events.js";
