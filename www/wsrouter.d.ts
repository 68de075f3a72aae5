// SPDX-License-Identifier: MIT
// Types of www/wsrouter.js, the JavaScript client of the wsrouter protocol v1.
// Kept by hand next to the module; tests/js/client.test.mjs type-checks a use of it.

/** The library's version. */
export declare const VERSION: string;

/** The WebSocket subprotocol of the wire protocol, asked for by default. */
export declare const SUBPROTOCOL: 'wsrouter.v1';

/** The client's defaults. */
export declare const DEFAULTS: Readonly<Required<Omit<WsRouterOptions, 'token' | 'WebSocket'>>>;

/** HTTP methods of the protocol (case-insensitive on the wire). */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

/** A request message (PROTOCOL.md section 3). Other members are sent as given. */
export interface RequestMessage {
  method?: Method | Lowercase<Method> | string;
  url?: string;
  cmd?: string;
  args?: Record<string, unknown>;
  data?: unknown;
  /** Assigned by the client when absent; must not be in use by another request. */
  id?: string | number;
  event_name?: unknown;
  token?: string;
  [member: string]: unknown;
}

/** A reply (PROTOCOL.md section 4). */
export interface Reply<T = unknown> {
  status: number;
  data?: T;
  detail?: string;
  errors?: Record<string, string>;
  allow?: string[];
  id?: string | number;
  event_name: unknown;
}

/** A push (a server message with no status); a publication has a topic. */
export interface Push<T = unknown> {
  event_name: unknown;
  data?: T;
  topic?: string;
  [member: string]: unknown;
}

/** Options of one request. */
export interface RequestOptions {
  /** ms before the promise rejects with 408 (0: never); defaults to the client's. */
  timeout?: number;
  /** Rejects the request (code EABORTED) when aborted. */
  signal?: AbortSignal;
  /** The `token` member for this request. */
  token?: string;
  /** The `event_name` member (echoed in the reply). */
  event_name?: unknown;
  /** A body, for call() and delete(). */
  data?: unknown;
}

/** A WebSocket class: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketClass {
  new (url: string, protocols?: string | string[]): unknown;
}

/** Options of a client. */
export interface WsRouterOptions {
  /** How requests are sent: JSON text, or base64 text of the UTF-8 JSON. Default 'json'. */
  encoding?: 'json' | 'base64';
  /** Subprotocol(s) asked for; null or [] for none. Default 'wsrouter.v1'. */
  protocols?: string | string[] | null;
  /** Sent as the `token` member of every request that has none. */
  token?: string;
  /** Default per-request timeout in ms, from the call; 0 waits forever. Default 35000. */
  timeout?: number;
  /** ms one attempt to connect may take. Default 10000. */
  connectTimeout?: number;
  /** Reconnect when the connection drops. Default true. */
  reconnect?: boolean;
  /** First delay before reconnecting, in ms; doubles at each failed attempt. Default 250. */
  reconnectDelay?: number;
  /** Largest delay between attempts, in ms. Default 10000. */
  reconnectMaxDelay?: number;
  /** Failed attempts in a row before giving up. Default Infinity. */
  maxReconnects?: number;
  /** Requests kept while offline; past it they reject with EQUEUEFULL. Default 100. */
  queueSize?: number;
  /** The WebSocket class; defaults to globalThis.WebSocket. */
  WebSocket?: WebSocketClass;
}

/** Local error codes (errors made on the client). */
export type LocalErrorCode =
  | 'ETIMEDOUT'
  | 'EQUEUEFULL'
  | 'ECLOSED'
  | 'ECLIENTCLOSED'
  | 'ECONNECT'
  | 'EABORTED'
  | 'EENCODE'
  | 'EBADREQUEST';

/** A failed request: a non-2xx reply, or a local failure (`local`, `code`). */
export declare class WsRouterError extends Error {
  constructor(
    status: number,
    detail: string,
    extra?: {
      errors?: Record<string, string>;
      allow?: string[];
      reply?: Reply;
      code?: LocalErrorCode;
      local?: boolean;
    },
  );
  readonly name: 'WsRouterError';
  /** HTTP-style status; 408 for a client timeout, 0 for a connection failure. */
  status: number;
  detail: string;
  /** For 422: parameter name to message. */
  errors?: Record<string, string>;
  /** For 405: the methods the URL accepts. */
  allow?: string[];
  /** The whole reply, when there was one. */
  reply?: Reply;
  code?: LocalErrorCode;
  local: boolean;
  static fromReply(reply: Reply): WsRouterError;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The `detail` of each connection event. */
export interface WsRouterEventMap {
  open: CustomEvent<{ reconnected: boolean; protocol: string }>;
  close: CustomEvent<{ code: number; reason: string; wasClean: boolean; willReconnect: boolean }>;
  reconnecting: CustomEvent<{ attempt: number; delay: number }>;
  statechange: CustomEvent<{ state: ConnectionState; previous: ConnectionState }>;
  error: CustomEvent<{ error: unknown; topic?: string }>;
}

export type PushListener<T = any> = (data: T, message: Push<T>) => void;

/** A wsrouter client: one WebSocket, reconnected when it drops. */
export declare class WsRouter extends EventTarget {
  /** Starts connecting at once and keeps trying; requests wait in the offline queue. */
  constructor(url: string, options?: WsRouterOptions);
  /** Resolves once open; rejects with ECONNECT if the first attempt fails. */
  static connect(url: string, options?: WsRouterOptions): Promise<WsRouter>;

  /** Resolves at the first open; rejects if closed before it ever opened. */
  readonly ready: Promise<WsRouter>;
  readonly url: string;
  readonly state: ConnectionState;
  /** The selected subprotocol ('' for none). */
  readonly protocol: string;
  readonly encoding: 'json' | 'base64';
  /** Requests waiting in the offline queue. */
  readonly queued: number;
  /** Requests sent and not answered yet. */
  readonly inFlight: number;
  /** Topics subscribed to. */
  readonly topics: string[];
  /** The token sent with every request that has none of its own. */
  token: string | undefined;

  /** Resolves with the reply's data (2xx); rejects with WsRouterError otherwise. */
  request<T = any>(message: RequestMessage, options?: RequestOptions): Promise<T>;
  /** Resolves with the whole reply whatever its status; rejects on local failures only. */
  fetch<T = any>(message: RequestMessage, options?: RequestOptions): Promise<Reply<T>>;
  get<T = any>(url: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  post<T = any>(url: string, data?: unknown, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  put<T = any>(url: string, data?: unknown, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  patch<T = any>(url: string, data?: unknown, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  delete<T = any>(url: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  /** Calls a route by name: {cmd, args}. */
  call<T = any>(cmd: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  /** Round trip of the built-in ping, in ms. */
  ping(options?: RequestOptions): Promise<number>;

  /** Listens to pushes with this event_name ('*': every push); returns a remover. */
  on<T = any>(eventName: string, fn: PushListener<T>): () => void;
  off(eventName: string, fn?: PushListener): void;
  /** Subscribes to a topic; the handler gets each publication's data. */
  subscribe<T = any>(topic: string, fn: PushListener<T>, options?: RequestOptions): Promise<{ subscribed: string }>;
  unsubscribe(
    topic: string,
    fn?: PushListener,
    options?: RequestOptions,
  ): Promise<{ unsubscribed: string } | { subscribed: string }>;
  publish(topic: string, data: unknown, options?: RequestOptions): Promise<{ delivered: number }>;

  /** Closes for good: no reconnection; waiting requests reject with ECLIENTCLOSED. */
  close(code?: number, reason?: string): Promise<void>;

  addEventListener<K extends keyof WsRouterEventMap>(
    type: K,
    listener: (ev: WsRouterEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof WsRouterEventMap>(
    type: K,
    listener: (ev: WsRouterEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** UTF-8 text to base64 (standard alphabet, padded). */
export declare function encodeBase64(text: string): string;
/** Base64 (padding optional, blanks ignored) of UTF-8 to text. */
export declare function decodeBase64(b64: string): string;

export default WsRouter;
