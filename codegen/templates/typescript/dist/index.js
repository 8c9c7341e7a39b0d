/**
 * Typed event tracking for the Charter contracts.
 *
 * ```ts
 * import { Tracker } from "__PACKAGE__";
 * const tracker = new Tracker({ endpoint: "http://localhost:8080" });
 * tracker.track("com.acme.shop/payment/1", { ... }); // the data type follows from the schema string
 * await tracker.flush();
 * ```
 *
 * What is checked where. At compile time (tsc): the contract reference, field names, JSON types,
 * required fields, literal types (`const`, `enum`), unions (`anyOf`/`oneOf`), tuples (`prefixItems`)
 * and records (`additionalProperties`/`patternProperties`). At run time the tracker checks only that
 * `data` serializes (`JSON.stringify`: a cycle or a BigInt is reported as `unserializable`; note that
 * it drops `undefined` fields and sends `NaN` as `null`). Everything else (formats, patterns, bounds,
 * `multipleOf`, `uniqueItems`, `not`, `if`/`then`/`else`, dependencies, `unevaluated*`, rules) is
 * checked by the collector: an event that breaks it comes back in a 207 and reaches `onFailure` as
 * `rejected`. The Python SDK checks the whole schema locally; this one does not.
 */
export { Tracker } from "./tracker.js";
