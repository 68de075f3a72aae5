// SPDX-License-Identifier: MIT
// Types of www/wsrouter.js, the JavaScript client of the wsrouter protocol v1
// (docs/protocol.md in wsrouter's source).
// Kept by hand next to the module; tests/js/client.test.mjs type-checks a use of it.

/** The library's version. */
export declare const VERSION: string;

/** The WebSocket subprotocol of the wire protocol, asked for by default. */
export declare const SUBPROTOCOL: 'wsrouter.v1';

/** The client's defaults. */
export declare const DEFAULTS: Readonly<Required<Omit<WsRouterOptions, 'token' | 'WebSocket' | 'getToken'>>>;

/** HTTP methods of the protocol (case-insensitive on the wire). */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

/** A request message (docs/protocol.md section 3). Other members are sent as given. */
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

/** A reply (docs/protocol.md section 4). */
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
  /** Rejects the request (code EABORTED) when aborted, and cancels it on the server. */
  signal?: AbortSignal;
  /** Called with each progress message of the call, in order, before it settles. */
  onProgress?: (progress: any, message: Record<string, unknown>) => void;
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
  /**
   * Gives a fresh token: called before the token expires (at refreshAt of its
   * lifetime) and when the client (re)connects without one or with one about to
   * expire; the token is then sent with /auth/session.
   */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Without getToken: renew wsrouter's own token with /auth/refresh before it expires. Default false. */
  refresh?: boolean;
  /** When to renew, as a fraction of the token's lifetime. Default 0.8. */
  refreshAt?: number;
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
  | 'EBADREQUEST'
  | 'ENOTOKEN';

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
  token: CustomEvent<{ token: string; expiresAt: number | null; source: 'refresh' | 'getToken' }>;
  /** A topic subscribed again after a reconnection; recovered: nothing was lost. */
  resubscribed: CustomEvent<{ topic: string; recovered: boolean; offset: number | null; epoch: string | null }>;
  /** Input the server did not take: 404 (the call is not running) or 429 (too much waiting). */
  inputrefused: CustomEvent<{ id: string | number; status: number; detail: string }>;
}

/** What /auth/login and /auth/refresh answer. */
export interface TokenReply {
  token: string;
  expires_at: number;
  user: string;
  roles: string[];
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
  /** The token sent with every request that has none of its own; renewed with getToken or refresh. */
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
  /** Calls a streaming route: iterate its progress; `result` is the reply's data.
   * Leaving the loop early or aborting the signal cancels the call on the server. */
  stream<P = any, T = any>(cmd: string, args?: Record<string, unknown>, options?: RequestOptions): AsyncIterable<P> & { id: number; result: Promise<T>; send(value: unknown): boolean };
  /** Sends input {id, input} to a running call of ours; false while disconnected. */
  input(id: string | number, value: unknown): boolean;
  /** Round trip of the built-in ping, in ms. */
  ping(options?: RequestOptions): Promise<number>;
  /** POST /auth/login; keeps the token for every later request (and renews it with refresh). */
  login(username: string, password: string, options?: RequestOptions): Promise<TokenReply>;
  /** POST /auth/logout; forgets the token. */
  logout(options?: RequestOptions): Promise<null>;

  /** Listens to pushes with this event_name ('*': every push); returns a remover. */
  on<T = any>(eventName: string, fn: PushListener<T>): () => void;
  off(eventName: string, fn?: PushListener): void;
  /** Where a subscribed topic stands: the last publication received (null: unknown). */
  position(topic: string): { offset: number; epoch: string } | null;
  /** Subscribes to a topic; the handler gets each publication's data. After a
   * reconnection it resumes after the last publication received (event `resubscribed`). */
  subscribe<T = any>(topic: string, fn: PushListener<T>, options?: RequestOptions): Promise<{ subscribed: string; offset?: number; epoch?: string }>;
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
