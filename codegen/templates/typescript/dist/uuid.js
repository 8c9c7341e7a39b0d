/**
 * UUIDv7 (RFC 9562) event ids: a 48-bit Unix-millisecond timestamp, then random bits, so ids
 * sort by creation time. Copied verbatim by `charter codegen typescript`.
 */
/** A new UUIDv7 string, e.g. `019a8f2e-5c3b-7d41-9f0e-2b6c8a1d4e37`. */
export function uuidv7(now = Date.now()) {
    const bytes = randomBytes(16);
    let ms = now;
    for (let i = 5; i >= 0; i--) {
        bytes[i] = ms % 256;
        ms = Math.floor(ms / 256);
    }
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x70; // version 7
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // variant 10
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
function randomBytes(n) {
    const bytes = new Uint8Array(n);
    const crypto = globalThis.crypto;
    if (typeof crypto?.getRandomValues === "function") {
        crypto.getRandomValues(bytes);
        return bytes;
    }
    // Node 18 has no global webcrypto without a flag; ids need to be unique, not secret.
    for (let i = 0; i < n; i++)
        bytes[i] = Math.floor(Math.random() * 256);
    return bytes;
}
