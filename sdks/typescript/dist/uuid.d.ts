/**
 * UUIDv7 (RFC 9562) event ids: a 48-bit Unix-millisecond timestamp, then random bits, so ids
 * sort by creation time. Copied verbatim by `charter codegen typescript`.
 */
/** A new UUIDv7 string, e.g. `019a8f2e-5c3b-7d41-9f0e-2b6c8a1d4e37`. */
export declare function uuidv7(now?: number): string;
