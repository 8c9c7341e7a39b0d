/**
 * The tracker: queues events, sends them in batches to the collector's `POST /v1/events`,
 * retries only what the collector asked to be retried (429, 503, network errors), and never
 * throws into the host app: whatever goes wrong is reported to `onFailure`.
 *
 * Works in browsers (fetch with `keepalive`, `navigator.sendBeacon` when the page is hidden)
 * and in Node 18+ (global fetch). Copied verbatim by `charter codegen typescript`.
 */
import type { EventData, SchemaRef } from "./events.js";
/** Why events did not reach the collector, or were refused by it. */
export type FailureReason = 
/** The queue held `maxQueue` events: this one was dropped. */
"queue_full"
/** `track()` after `close()`: the event was dropped. */
 | "closed"
/** `JSON.stringify` threw on the data (a cycle, a BigInt): the event was dropped. */
 | "unserializable"
/** The collector answered 207: these events broke their contract (they are in its dead-letter topic). */
 | "rejected"
/** The collector refused the request (400, 413, 415, ...) or there is no fetch: not retried. */
 | "refused"
/** 429, 503 or network errors on every one of `1 + maxRetries` attempts. */
 | "retries_exhausted"
/** A bug in the tracker itself; the events are lost. Please report it. */
 | "error";
export interface FailedEvent {
    readonly id: string;
    readonly schema: string;
    readonly data: unknown;
}
export interface TrackerFailure {
    readonly reason: FailureReason;
    readonly message: string;
    readonly events: readonly FailedEvent[];
    /** The HTTP status, when the collector answered. */
    readonly status?: number;
    /** The collector's per-event errors (207): index, id, type, failures. */
    readonly errors?: readonly unknown[];
}
/** The part of `fetch` the tracker uses, so no DOM or Node types leak into its API. */
export type FetchLike = (url: string, init: {
    method: "POST";
    headers: Record<string, string>;
    body: string;
    keepalive?: boolean;
    signal?: unknown;
}) => Promise<{
    readonly status: number;
    readonly headers: {
        get(name: string): string | null;
    };
    text(): Promise<string>;
}>;
export interface TrackerOptions {
    /** Collector base URL, e.g. `http://localhost:8080` (`""`: the page's own origin); events are POSTed to
     * `<endpoint>/v1/events` (a query string such as `?key=<write key>` is kept). */
    endpoint: string;
    /** Send when this many events are queued. Default 50. */
    batchSize?: number;
    /** Send when the queued events reach this many bytes; a batch never exceeds it (but a lone event may).
     * Default 60000, under the browsers' 64 KiB budget for keepalive requests and beacons. */
    maxBytes?: number;
    /** Send queued events at the latest this long after the first of them was tracked. Default 1000. */
    flushIntervalMs?: number;
    /** Events held (queued or being sent) at most; more are dropped and reported. Default 1000. */
    maxQueue?: number;
    /** Retries of a batch after 429/503/network errors. Default 5. */
    maxRetries?: number;
    /** First retry delay; doubles each retry, with jitter, capped by `retryMaxMs`. Default 250. */
    retryBaseMs?: number;
    /** Longest backoff delay (a longer `Retry-After` is still honoured). Default 30000. */
    retryMaxMs?: number;
    /** Abort a request after this long and treat it as a network error. Default 10000. */
    timeoutMs?: number;
    /** Told about every event that did not make it, or was rejected. Errors it throws are ignored. */
    onFailure?: (failure: TrackerFailure) => void;
    /** A fetch implementation; defaults to the global `fetch`. */
    fetch?: FetchLike;
}
export declare class Tracker {
    private readonly url;
    private readonly batchSize;
    private readonly maxBytes;
    private readonly flushIntervalMs;
    private readonly maxQueue;
    private readonly maxRetries;
    private readonly retryBaseMs;
    private readonly retryMaxMs;
    private readonly timeoutMs;
    private readonly onFailure;
    private readonly fetch;
    private readonly browser;
    private queue;
    private queuedBytes;
    private sending;
    private timer;
    private draining;
    private closed;
    constructor(options: TrackerOptions);
    /**
     * Queue one event for the contract `schema`; `data` must match its type. Returns the event id
     * (a UUIDv7), or `undefined` when the event was dropped (and reported to `onFailure`).
     *
     * `schema` is one contract reference: a variable typed `SchemaRef` (which could be any contract)
     * does not compile, as its data could not be checked. To pass both through a function of your
     * own, type them `<S extends SchemaRef>(schema: S, data: EventData<S>)`.
     */
    track<S extends SchemaRef>(schema: S, data: EventData<S>): string | undefined;
    /** Send every queued event; resolves (never rejects) when each was delivered or reported. */
    flush(): Promise<void>;
    /** Stop listening for page hide, refuse further events and flush the queued ones. */
    close(): Promise<void>;
    private enqueue;
    private drop;
    private drain;
    /** The oldest events that fit in one batch (at least one). */
    private take;
    private deliver;
    private post;
    private settle;
    private backoff;
    private schedule;
    private clearTimer;
    private readonly onVisibilityChange;
    private readonly onPageHide;
    /** The page may be going away: hand queued events to the browser, which sends them even after unload. */
    private sendOnHide;
    private report;
}
