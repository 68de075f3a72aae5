// SPDX-License-Identifier: MIT
/**
 * wsrouter.js: the JavaScript client of the wsrouter wire protocol, version 1
 * (docs/protocol.md). One ES module, no dependencies; it runs in current browsers
 * and in Node (the global WebSocket from Node 22 on; on older Node pass a WebSocket
 * class such as the `ws` package's as `options.WebSocket`).
 *
 *     import { WsRouter } from './wsrouter.js';
 *     const client = await WsRouter.connect('ws://127.0.0.1:8080/');
 *     const sum = await client.call('add', { x: 1, y: 2 });            // 3
 *     await client.subscribe('counters', ({ key, value }) => ...);
 *
 * What it does for you:
 * - every request gets a unique `id`; replies are matched by it, so any number of
 *   requests may be in flight at once;
 * - a request's promise resolves to the reply's `data` (status 2xx) or rejects with a
 *   {@link WsRouterError} carrying `status`, `detail`, `errors` (422), `allow` (405);
 * - a per-request timeout rejects with status 408 and a detail saying that it timed
 *   out on the client (the late reply, if any, is dropped);
 * - pushes (server messages with no `status`) go to `on(event_name)` listeners, and
 *   publications to the topic's `subscribe()` handlers;
 * - when the connection drops, it reconnects with exponential backoff and jitter,
 *   subscribes again to every topic, and then sends the requests made while offline
 *   (a bounded queue; past the bound a request is rejected at once). Requests that
 *   were already sent when the connection dropped are rejected (status 0, code
 *   `ECLOSED`), never sent twice: the server may have acted on them;
 * - with `getToken` or `refresh`, it keeps its token fresh: before the token
 *   expires (at `refreshAt` of its lifetime) it asks `getToken()` for a new one and
 *   sends it with `/auth/session`, or asks the server for one with `/auth/refresh`;
 *   and after each (re)connection it authenticates the connection with
 *   `/auth/session` before anything else is sent (fetching a token first when it
 *   has none or it is about to expire), as centrifuge-js does.
 *
 * @module wsrouter
 */

/** The library's version (the same as wsrouter's: include/wsrouter/common.h). */
export const VERSION = '0.2.0';

/** The WebSocket subprotocol of the wire protocol, asked for by default. */
export const SUBPROTOCOL = 'wsrouter.v1';

/** The client's defaults; every one can be given in the options of the constructor. */
export const DEFAULTS = Object.freeze({
  encoding: 'json',
  protocols: SUBPROTOCOL,
  timeout: 35000,
  connectTimeout: 10000,
  reconnect: true,
  reconnectDelay: 250,
  reconnectMaxDelay: 10000,
  maxReconnects: Infinity,
  queueSize: 100,
  refresh: false,
  refreshAt: 0.8,
});

const OPEN = 1; // WebSocket.OPEN, the same in browsers and in `ws`
/** The event_name input is sent with: the server echoes it in its 404 or
 * 429 answer to input, which carries the call's own id and a status and
 * would otherwise read as the call's reply. The C client uses the same.
 * A call's own event_name must not be this. */
const INPUT_EVENT = 'wsr-input';

/**
 * A failed request. Server errors carry the reply's members; errors made on the
 * client have `local` set and a `code`:
 *
 * | code | status | when |
 * | --- | --- | --- |
 * | `ETIMEDOUT` | 408 | no reply within the request's timeout |
 * | `EQUEUEFULL` | 503 | offline and the offline queue is full |
 * | `ECLOSED` | 0 | the connection closed after the request was sent |
 * | `ECLIENTCLOSED` | 0 | `close()` was called, or reconnecting was given up |
 * | `ECONNECT` | 0 | `WsRouter.connect()` could not open the connection |
 * | `EABORTED` | 0 | the request's AbortSignal fired |
 * | `EENCODE` | 400 | the request could not be encoded as JSON |
 * | `EBADREQUEST` | 400 | a bad argument, or an `id` already in use |
 * | `ENOTOKEN` | 401 | `getToken()` gave no token (an `error` event) |
 */
export class WsRouterError extends Error {
  /**
   * @param {number} status HTTP-style status (0 for a connection failure)
   * @param {string} detail one sentence saying what went wrong
   * @param {{errors?: Object<string,string>, allow?: string[], reply?: object,
   *          code?: string, local?: boolean}} [extra]
   */
  constructor(status, detail, extra = {}) {
    super(detail);
    this.name = 'WsRouterError';
    /** HTTP-style status: the reply's, or the local one of the table above. */
    this.status = status;
    /** The reply's `detail`, or the local explanation. */
    this.detail = detail;
    /** For 422: parameter name to message. */
    this.errors = extra.errors;
    /** For 405: the methods the URL accepts. */
    this.allow = extra.allow;
    /** The whole reply, when there was one. */
    this.reply = extra.reply;
    /** For a local error: ETIMEDOUT, EQUEUEFULL, ECLOSED, ... */
    this.code = extra.code;
    /** True when the error was made on the client, not answered by the server. */
    this.local = extra.local === true;
  }

  /**
   * The error a non-2xx reply stands for.
   * @param {object} reply a parsed reply with `status`
   * @returns {WsRouterError}
   */
  static fromReply(reply) {
    const detail = typeof reply.detail === 'string' ? reply.detail : `status ${reply.status}`;
    return new WsRouterError(reply.status, detail, { errors: reply.errors, allow: reply.allow, reply });
  }
}

function localError(status, code, detail) {
  return new WsRouterError(status, detail, { code, local: true });
}

/**
 * UTF-8 text to base64 (RFC 4648, standard alphabet, padded), in browsers and Node.
 * @param {string} text
 * @returns {string}
 */
export function encodeBase64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, /** @type {any} */ (bytes.subarray(i, i + 0x8000)));
  }
  return btoa(bin);
}

/**
 * Base64 (padding optional, blanks ignored) of UTF-8 to text, in browsers and Node.
 * @param {string} b64
 * @returns {string}
 */
export function decodeBase64(b64) {
  const bin = atob(b64.replace(/[\s]+/g, ''));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** Reads one received message (text or binary, JSON or base64) as an object. */
function decodeMessage(data) {
  let text;
  if (typeof data === 'string') text = data;
  else if (data instanceof ArrayBuffer) text = new TextDecoder().decode(new Uint8Array(data));
  else if (ArrayBuffer.isView(data)) text = new TextDecoder().decode(data);
  else if (Array.isArray(data)) text = data.map((b) => new TextDecoder().decode(b)).join('');
  else throw new TypeError('unexpected message type');
  const t = text.trimStart();
  return JSON.parse(t.startsWith('{') ? t : decodeBase64(t));
}

function makeEvent(type, detail) {
  if (typeof CustomEvent === 'function') return new CustomEvent(type, { detail });
  const ev = new Event(type);
  Object.defineProperty(ev, 'detail', { value: detail });
  return ev;
}

/**
 * Takes a subscribe reply's `offset` and `epoch` as the topic's position,
 * unless a publication of that epoch at or past it has arrived already (the
 * reply and the first publications may come in either order).
 */
function adoptPosition(t, data) {
  if (!data || !Number.isSafeInteger(data.offset) || typeof data.epoch !== 'string') return;
  if (t.epoch === data.epoch && t.offset !== null && t.offset >= data.offset) return;
  t.offset = data.offset;
  t.epoch = data.epoch;
}

/**
 * A wsrouter client: one WebSocket, reconnected when it drops.
 *
 * It is an EventTarget; connection events are `CustomEvent`s with a `detail`:
 * - `open`: connected (`detail.reconnected` is true after a reconnection);
 * - `close`: the connection closed (`detail.code`, `detail.reason`, `detail.willReconnect`);
 * - `reconnecting`: a new attempt is scheduled (`detail.attempt`, `detail.delay` in ms);
 * - `statechange`: `detail.state` and `detail.previous` (see {@link WsRouter#state});
 * - `error`: something went wrong outside any request: an unreadable message, a failed
 *   re-subscription, a push listener that threw, a token that could not be renewed
 *   (`detail.error`, `detail.topic`);
 * - `token`: the token was renewed (`detail.token`, `detail.expiresAt` in seconds,
 *   `detail.source`: `'refresh'` or `'getToken'`);
 * - `resubscribed`: a topic was subscribed again after a reconnection, resuming
 *   after the last publication received (docs/protocol.md section 5.2):
 *   `detail.topic`, `detail.recovered` (true: every publication missed meanwhile
 *   was delivered, in order, before the new ones; false: some were lost, reload
 *   the state they describe), `detail.offset` and `detail.epoch` (where the topic
 *   stood).
 *
 * Server pushes are not DOM events: listen to them with {@link WsRouter#on}.
 */
export class WsRouter extends EventTarget {
  #url;
  #opts;
  #WS;
  #ws = null;
  /** @type {'connecting'|'open'|'reconnecting'|'closed'} */
  #state = 'connecting';
  #everOpened = false;
  #closing = false;
  #attempt = 0;
  #retryTimer = null;
  #connectTimer = null;
  #nextId = 1;
  /** id -> entry {message, resolve, reject, full, timer, sent, cleanup} */
  #pending = new Map();
  /** entries waiting for the connection, in order */
  #queue = [];
  /** event_name -> Set of listeners */
  #listeners = new Map();
  /** topic -> {handlers: Set, pending: Promise|null, offset: number|null, epoch: string|null}:
   * offset and epoch are those of the last publication received (or of the
   * subscription's start), what a resubscription resumes after. */
  #topics = new Map();
  #readyResolve;
  #readyReject;
  #onOnline = null;
  /** the token, when it was set (ms), its renewal timer, and the open's authentication */
  #token = undefined;
  #tokenSetAt = 0;
  #renewTimer = null;
  #renewing = null;
  #authGate = false;

  /**
   * Creates a client and starts connecting at once; it keeps trying, with backoff,
   * until it is open (see {@link WsRouter#ready}). Requests made before then wait in
   * the offline queue. Use {@link WsRouter.connect} to wait for the connection and
   * fail when the first attempt fails.
   *
   * @param {string} url `ws://HOST:PORT/` or `wss://...`; in a browser a path such as
   *   `/` is taken relative to the page (`ws:` for `http:` pages, `wss:` for `https:`)
   * @param {object} [options]
   * @param {'json'|'base64'} [options.encoding='json'] how requests are sent: JSON
   *   text frames, or text frames holding base64 of the UTF-8 JSON. Replies and
   *   pushes are read in either form.
   * @param {string|string[]|null} [options.protocols='wsrouter.v1'] the subprotocol(s)
   *   asked for; null or [] asks for none
   * @param {string} [options.token] bearer token sent as the `token` member of every
   *   request that has none of its own (see also {@link WsRouter#token})
   * @param {() => (string|null|undefined|Promise<string|null|undefined>)} [options.getToken]
   *   returns a fresh token (from the application's backend or an identity provider):
   *   called before the token expires, and when the client (re)connects without a
   *   token or with one about to expire. The token it gives is sent with
   *   `/auth/session`. A rejection, or no token, is reported as an `error` event and
   *   tried again later.
   * @param {boolean} [options.refresh=false] without `getToken`: renew wsrouter's own
   *   token with `POST /auth/refresh` before it expires (an identity provider's token
   *   cannot be renewed so: give `getToken`). With either, every (re)connection is
   *   authenticated with `/auth/session` first.
   * @param {number} [options.refreshAt=0.8] when to renew, as a fraction of the
   *   token's lifetime (from its `iat`, or from when the client got it, to its `exp`)
   * @param {number} [options.timeout=35000] default per-request timeout in ms, counted
   *   from the call (time spent in the offline queue included); 0 waits forever. It is a
   *   little above the server's default request_timeout_ms (30 s), so that the server's
   *   own 408 normally comes first.
   * @param {number} [options.connectTimeout=10000] ms an attempt to connect may take
   * @param {boolean} [options.reconnect=true] reconnect when the connection drops
   * @param {number} [options.reconnectDelay=250] first delay before reconnecting, in ms;
   *   it doubles at each failed attempt
   * @param {number} [options.reconnectMaxDelay=10000] the largest delay, in ms
   * @param {number} [options.maxReconnects=Infinity] attempts in a row before giving up
   *   (the client is then closed)
   * @param {number} [options.queueSize=100] requests kept while offline; past it a
   *   request is rejected with code EQUEUEFULL; 0 rejects every request made offline
   * @param {typeof WebSocket} [options.WebSocket] the WebSocket class (defaults to
   *   `globalThis.WebSocket`; pass the `ws` package's on Node before 22)
   */
  constructor(url, options = {}) {
    super();
    this.#opts = { ...DEFAULTS, ...options };
    const o = this.#opts;
    if (o.encoding !== 'json' && o.encoding !== 'base64') {
      throw new TypeError(`encoding must be 'json' or 'base64', not ${JSON.stringify(o.encoding)}`);
    }
    this.#WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WS !== 'function') {
      throw new TypeError('no WebSocket class: pass options.WebSocket (on Node before 22, the ws package)');
    }
    this.#url = resolveUrl(url);
    if (o.getToken != null && typeof o.getToken !== 'function') {
      throw new TypeError('getToken must be a function that returns a token');
    }
    if (!(o.refreshAt > 0 && o.refreshAt < 1)) {
      throw new TypeError(`refreshAt must be a fraction between 0 and 1, not ${JSON.stringify(o.refreshAt)}`);
    }
    this.#setToken(o.token);
    /**
     * Resolves with the client at its first open; rejects if the client is closed
     * before it ever opened.
     * @type {Promise<WsRouter>}
     */
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {}); // only a rejection someone awaits is reported
    if (typeof globalThis.addEventListener === 'function') {
      this.#onOnline = () => { if (this.#state === 'reconnecting') this.#retryNow(); };
      globalThis.addEventListener('online', this.#onOnline);
    }
    this.#open();
  }

  /**
   * Connects and resolves with the client once the connection is open; rejects with
   * a WsRouterError (code ECONNECT) if the first attempt fails. Once connected, the
   * client reconnects by itself (unless `options.reconnect` is false).
   * @param {string} url
   * @param {object} [options] as for the constructor
   * @returns {Promise<WsRouter>}
   */
  static connect(url, options = {}) {
    let client;
    try {
      client = new WsRouter(url, options);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      const done = () => {
        client.removeEventListener('open', onOpen);
        client.removeEventListener('close', onClose);
      };
      const onOpen = () => { done(); resolve(client); };
      const onClose = (ev) => {
        done();
        client.close();
        const why = ev.detail.code ? ` (close code ${ev.detail.code})` : '';
        reject(localError(0, 'ECONNECT', `could not connect to ${client.url}${why}`));
      };
      client.addEventListener('open', onOpen);
      client.addEventListener('close', onClose);
    });
  }

  /**
   * The bearer token sent with every request that has no `token` of its own;
   * setting it (re)schedules its renewal when `getToken` or `refresh` is given.
   * @type {string|undefined}
   */
  get token() { return this.#token; }

  set token(value) { this.#setToken(value ?? undefined); }

  /** The URL connected to. @type {string} */
  get url() { return this.#url; }

  /**
   * `connecting` (before the first open), `open`, `reconnecting` (the connection
   * dropped; waiting or trying again) or `closed` (for good).
   * @type {'connecting'|'open'|'reconnecting'|'closed'}
   */
  get state() { return this.#state; }

  /** The subprotocol the server selected ('' for none, or before the open). @type {string} */
  get protocol() { return this.#ws && this.#ws.readyState === OPEN ? this.#ws.protocol : ''; }

  /** The encoding requests are sent in. @type {'json'|'base64'} */
  get encoding() { return this.#opts.encoding; }

  /** Requests waiting in the offline queue. @type {number} */
  get queued() { return this.#queue.length; }

  /** Requests sent and not answered yet. @type {number} */
  get inFlight() { return this.#pending.size - this.#queue.length; }

  /** The topics subscribed to (or being subscribed to). @type {string[]} */
  get topics() { return [...this.#topics.keys()]; }

  /**
   * Where a subscribed topic stands for this client: the offset and epoch of the
   * last publication received on it (or of the subscription's start), which a
   * resubscription after a reconnection resumes after; null when not subscribed
   * or not known yet.
   * @param {string} topic
   * @returns {{offset: number, epoch: string} | null}
   */
  position(topic) {
    const t = this.#topics.get(topic);
    return t && t.epoch !== null ? { offset: t.offset, epoch: t.epoch } : null;
  }

  // ---- requests ---------------------------------------------------------------------

  /**
   * Sends one request message and resolves with the reply's `data`; rejects with a
   * WsRouterError for a non-2xx status or a local failure.
   *
   * The message is sent as given (every member of docs/protocol.md section 3, and any
   * other), with an `id` added (unless it has one; it must not be in use) and the
   * client's `token` (unless it has one).
   *
   * @param {object} message e.g. `{method: 'GET', url: '/hello'}` or `{cmd: 'add', args: {x: 1, y: 2}}`
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  request(message, options = {}) {
    return this.#send(copyMessage(message, options), options, false);
  }

  /**
   * Like {@link WsRouter#request}, but resolves with the whole reply object
   * (`status`, `data` or `detail`, `errors`, `allow`, `id`, `event_name`) whatever its
   * status, the way `fetch()` does for HTTP. It rejects only on a local failure
   * (timeout, connection lost, queue full, ...).
   * @param {object} message
   * @param {RequestOptions} [options]
   * @returns {Promise<Reply>}
   */
  fetch(message, options = {}) {
    return this.#send(copyMessage(message, options), options, true);
  }

  /**
   * GET `url` with `args`.
   * @param {string} url e.g. `/counters/a` (a query string is merged into args by the server)
   * @param {object} [args]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the reply's data
   */
  get(url, args, options) {
    return this.#send(withOptions({ method: 'GET', url, args }, options), options, false);
  }

  /**
   * POST `data` to `url`.
   * @param {string} url
   * @param {any} [data] the body (any JSON value)
   * @param {object} [args]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the reply's data
   */
  post(url, data, args, options) {
    return this.#send(withOptions({ method: 'POST', url, args, data }, options), options, false);
  }

  /**
   * PUT `data` to `url`.
   * @param {string} url
   * @param {any} [data]
   * @param {object} [args]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the reply's data
   */
  put(url, data, args, options) {
    return this.#send(withOptions({ method: 'PUT', url, args, data }, options), options, false);
  }

  /**
   * PATCH `url` with `data`.
   * @param {string} url
   * @param {any} [data]
   * @param {object} [args]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the reply's data
   */
  patch(url, data, args, options) {
    return this.#send(withOptions({ method: 'PATCH', url, args, data }, options), options, false);
  }

  /**
   * DELETE `url`.
   * @param {string} url
   * @param {object} [args]
   * @param {RequestOptions} [options] (`options.data` sends a body)
   * @returns {Promise<any>} the reply's data
   */
  delete(url, args, options) {
    return this.#send(withOptions({ method: 'DELETE', url, args }, options), options, false);
  }

  /**
   * Calls a route by its name, RPC style: `{"cmd": cmd, "args": args}`.
   * @param {string} cmd the route's name, e.g. `add`
   * @param {object} [args]
   * @param {RequestOptions} [options] (`options.data` sends a body)
   * @returns {Promise<any>} the reply's data
   */
  call(cmd, args, options) {
    return this.#send(withOptions({ cmd, args }, options), options, false);
  }

  /**
   * Sends input to a running call of ours: `{"id": id, "input": value}`
   * (docs/protocol.md section 5.1); its handler receives it in order. Not
   * answered, unless the call is not running (404) or has too much input
   * waiting (429): those answers reject nothing and come as the event
   * `inputrefused` ({id, status, detail}); the call goes on.
   * @param {string|number} id the running call's id
   * @param {any} value any JSON value
   * @returns {boolean} whether it was sent (false while disconnected)
   */
  input(id, value) {
    if (!this.#ws || this.#ws.readyState !== OPEN) return false;
    this.#ws.send(this.#encode({ id, input: value === undefined ? null : value, event_name: INPUT_EVENT }, false));
    return true;
  }

  /**
   * Calls a streaming route and iterates over its progress messages
   * (docs/protocol.md section 5.1): `for await (const part of client.stream('count',
   * {n: 5})) ...`. The reply's data is `stream.result` (a promise). Leaving the loop
   * early (`break`, an exception) or aborting `options.signal` cancels the call on the
   * server. Parts that arrive faster than the loop reads them wait in memory.
   * @param {string} cmd the route's name
   * @param {object} [args]
   * @param {RequestOptions} [options]
   * @returns {AsyncIterable<any> & {id: number, result: Promise<any>, send: (value: any) => boolean}}
   */
  stream(cmd, args, options = {}) {
    const parts = [];
    const waiters = [];
    let finished = false;
    let failure = null;
    const ctl = new AbortController();
    const outer = options.signal;
    if (outer) {
      if (outer.aborted) ctl.abort();
      else outer.addEventListener('abort', () => ctl.abort(), { once: true });
    }
    const wake = () => {
      while (waiters.length && (parts.length || finished)) {
        const w = waiters.shift();
        if (parts.length) w.resolve({ value: parts.shift(), done: false });
        else if (failure) w.reject(failure);
        else w.resolve({ value: undefined, done: true });
      }
    };
    while (this.#pending.has(this.#nextId)) this.#nextId++;
    const id = this.#nextId++;
    const result = this.#send(withOptions({ cmd, args, id }, options), {
      ...options,
      signal: ctl.signal,
      onProgress: (p, m) => {
        if (options.onProgress) options.onProgress(p, m);
        parts.push(p);
        wake();
      },
    });
    result.then(
      () => { finished = true; wake(); },
      (e) => { finished = true; failure = e; wake(); },
    );
    return {
      id,
      result,
      /** Sends `value` to the running call as input (see {@link WsRouter#input}). */
      send: (value) => this.input(id, value),
      [Symbol.asyncIterator]() {
        return {
          next() {
            return new Promise((resolve, reject) => {
              waiters.push({ resolve, reject });
              wake();
            });
          },
          return() {
            if (!finished) ctl.abort();
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
  }

  /**
   * Measures a round trip with the built-in `ping` command.
   * @param {RequestOptions} [options]
   * @returns {Promise<number>} milliseconds
   */
  async ping(options) {
    const t0 = now();
    await this.call('ping', undefined, options);
    return now() - t0;
  }

  /**
   * Logs in (`POST /auth/login`) and keeps the token: it goes with every request
   * from now on, and with `refresh` it is renewed before it expires.
   * @param {string} username
   * @param {string} password
   * @param {RequestOptions} [options]
   * @returns {Promise<{token: string, expires_at: number, user: string, roles: string[]}>}
   */
  async login(username, password, options) {
    const data = await this.post('/auth/login', { username, password }, undefined, options);
    this.#setToken(data.token);
    return data;
  }

  /**
   * Logs out (`POST /auth/logout`) and forgets the token.
   * @param {RequestOptions} [options]
   * @returns {Promise<null>}
   */
  async logout(options) {
    const data = await this.post('/auth/logout', undefined, undefined, options);
    this.#setToken(undefined);
    return data;
  }

  // ---- pushes and subscriptions ------------------------------------------------------

  /**
   * Listens to pushes (server messages with no `status`) whose `event_name` is
   * `eventName`; `'*'` listens to every push. Publications have the event_name
   * `publish`. The listener gets `(data, message)`.
   * @param {string} eventName
   * @param {(data: any, message: object) => void} fn
   * @returns {() => void} a function that removes the listener
   */
  on(eventName, fn) {
    if (typeof fn !== 'function') throw new TypeError('on(): the listener must be a function');
    let set = this.#listeners.get(eventName);
    if (!set) this.#listeners.set(eventName, (set = new Set()));
    set.add(fn);
    return () => this.off(eventName, fn);
  }

  /**
   * Removes a listener added with {@link WsRouter#on}; without `fn`, every listener
   * of that event name.
   * @param {string} eventName
   * @param {(data: any, message: object) => void} [fn]
   */
  off(eventName, fn) {
    const set = this.#listeners.get(eventName);
    if (!set) return;
    if (fn) set.delete(fn);
    if (!fn || set.size === 0) this.#listeners.delete(eventName);
  }

  /**
   * Subscribes to a topic (`POST /_/subscribe`) and calls `fn(data, message)` for
   * each publication on it. Subscribing the same topic again only adds the handler.
   * The subscription is renewed after every reconnection, resuming after the last
   * publication received (see the `resubscribed` event).
   * @param {string} topic
   * @param {(data: any, message: object) => void} fn
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the server's answer, `{subscribed: topic, offset, epoch}`;
   *   on failure the handler is removed again
   */
  subscribe(topic, fn, options) {
    if (typeof topic !== 'string') return Promise.reject(localError(400, 'EBADREQUEST', 'subscribe(): the topic must be a string'));
    if (typeof fn !== 'function') return Promise.reject(localError(400, 'EBADREQUEST', 'subscribe(): the handler must be a function'));
    let t = this.#topics.get(topic);
    if (t) {
      t.handlers.add(fn);
      return t.pending ?? Promise.resolve({ subscribed: topic });
    }
    t = { handlers: new Set([fn]), pending: null, offset: null, epoch: null };
    this.#topics.set(topic, t);
    const entry = t;
    t.pending = this.post('/_/subscribe', undefined, { topic }, options).then(
      (data) => {
        if (entry.pending) entry.pending = null;
        adoptPosition(entry, data);
        return data;
      },
      (err) => {
        if (this.#topics.get(topic) === entry) this.#topics.delete(topic);
        entry.pending = null;
        throw err;
      },
    );
    return t.pending;
  }

  /**
   * Removes `fn` from the topic's handlers (without `fn`, all of them); when none is
   * left, unsubscribes (`POST /_/unsubscribe`). While offline it only forgets the
   * topic: the server forgot it when the connection closed.
   * @param {string} topic
   * @param {(data: any, message: object) => void} [fn]
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} `{unsubscribed: topic}`, or `{subscribed: topic}` while
   *   other handlers remain
   */
  unsubscribe(topic, fn, options) {
    const t = this.#topics.get(topic);
    if (!t) return Promise.resolve({ unsubscribed: topic });
    if (fn) t.handlers.delete(fn);
    else t.handlers.clear();
    if (t.handlers.size > 0) return Promise.resolve({ subscribed: topic });
    this.#topics.delete(topic);
    if (this.#state === 'open' || t.pending) {
      return this.post('/_/unsubscribe', undefined, { topic }, options);
    }
    return Promise.resolve({ unsubscribed: topic });
  }

  /**
   * Publishes `data` on a topic (`POST /_/publish`).
   * @param {string} topic
   * @param {any} data
   * @param {RequestOptions} [options]
   * @returns {Promise<{delivered: number}>}
   */
  publish(topic, data, options) {
    return this.post('/_/publish', data, { topic }, options);
  }

  // ---- the connection ----------------------------------------------------------------

  /**
   * Closes the connection for good: no reconnection; requests waiting or in flight
   * are rejected with code ECLIENTCLOSED.
   * @param {number} [code=1000]
   * @param {string} [reason]
   * @returns {Promise<void>} resolves once the socket has closed (at most ~3 s)
   */
  close(code = 1000, reason = '') {
    if (this.#state === 'closed' && !this.#ws) return Promise.resolve();
    this.#closing = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = null;
    if (this.#onOnline) globalThis.removeEventListener('online', this.#onOnline);
    this.#failAll('ECLIENTCLOSED', 'the client was closed');
    const ws = this.#ws;
    this.#setState('closed');
    this.#readyReject(localError(0, 'ECLIENTCLOSED', 'the client was closed before it connected'));
    if (!ws) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, 3000);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.#afterClose = finish;
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    });
  }

  #afterClose = null;

  #open() {
    let ws;
    try {
      const p = this.#opts.protocols;
      ws = p == null || (Array.isArray(p) && p.length === 0) ? new this.#WS(this.#url) : new this.#WS(this.#url, p);
    } catch (e) {
      if (!this.#everOpened && this.#attempt === 0) throw e; // a bad URL, in the constructor
      this.#onClose(null, { code: 1006, reason: String(e && e.message), wasClean: false });
      return;
    }
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    clearTimeout(this.#connectTimer);
    if (this.#opts.connectTimeout > 0) {
      this.#connectTimer = setTimeout(() => {
        if (ws.readyState !== OPEN) {
          try { ws.close(); } catch { /* closing an opening socket may throw */ }
          this.#onClose(ws, { code: 1006, reason: 'connect timeout', wasClean: false });
        }
      }, this.#opts.connectTimeout);
    }
    ws.onopen = () => this.#onOpen(ws);
    ws.onmessage = (ev) => this.#onMessage(ws, ev.data);
    ws.onclose = (ev) => this.#onClose(ws, ev);
    ws.onerror = () => {}; // followed by close, which carries what is known
  }

  #onOpen(ws) {
    if (ws !== this.#ws) return;
    clearTimeout(this.#connectTimer);
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#attempt = 0;
    this.#setState('open');
    this.#emit('open', { reconnected, protocol: ws.protocol });
    this.#readyResolve(this);
    if (this.#state !== 'open' || ws !== this.#ws) return; // closed by a listener
    if (!this.#keepsToken()) {
      this.#afterOpen(reconnected);
      return;
    }
    // Authenticate the connection first; requests wait in the queue meanwhile.
    this.#authGate = true;
    this.#authenticate().finally(() => {
      this.#authGate = false;
      if (this.#state !== 'open' || ws !== this.#ws) return;
      this.#afterOpen(reconnected);
      // A renewal that fell due while offline (refresh needs the connection).
      const due = this.#renewalDue();
      if (due !== null && due <= 0) this.#renew();
      else this.#scheduleRenewal();
    });
  }

  #afterOpen(reconnected) {
    if (reconnected) this.#resubscribe();
    const queue = this.#queue;
    this.#queue = [];
    for (const entry of queue) this.#transmit(entry);
  }

  // ---- the token ---------------------------------------------------------------------

  #keepsToken() {
    return typeof this.#opts.getToken === 'function' || this.#opts.refresh === true;
  }

  #setToken(token, source) {
    this.#token = token;
    this.#tokenSetAt = Date.now();
    if (source) {
      this.#emit('token', { token, expiresAt: tokenClaims(token).exp ?? null, source });
    }
    this.#scheduleRenewal();
  }

  /** Seconds until the token is due for renewal (may be negative), or null. */
  #renewalDue() {
    const { exp, iat } = tokenClaims(this.#token);
    if (typeof exp !== 'number') return null;
    const from = typeof iat === 'number' ? iat : this.#tokenSetAt / 1000;
    return from + Math.max(0, exp - from) * this.#opts.refreshAt - Date.now() / 1000;
  }

  #scheduleRenewal(delayMs) {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = null;
    if (!this.#keepsToken() || this.#closing || this.#state === 'closed') return;
    let ms = delayMs;
    if (ms === undefined) {
      const due = this.#renewalDue();
      if (due === null) return;
      ms = Math.max(0, due * 1000);
    }
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = null;
      this.#renew();
    }, Math.min(ms, 0x7fffffff));
  }

  /** Renews the token (once at a time); on failure tries again until it expires. */
  #renew() {
    if (this.#renewing) return this.#renewing;
    const online = this.#state === 'open' && !this.#authGate;
    let work;
    if (typeof this.#opts.getToken === 'function') {
      work = this.#fetchToken().then((t) => (online && this.#state === 'open' ? this.#sendSession(t) : null));
    } else if (online) {
      work = this.#send({ method: 'POST', url: '/auth/refresh' }, {}, false, true)
        .then((data) => this.#setToken(data.token, 'refresh'));
    } else {
      return Promise.resolve(); // renewed at the next open
    }
    this.#renewing = work.catch((error) => {
      this.#emit('error', { error });
      const { exp } = tokenClaims(this.#token);
      const left = typeof exp === 'number' ? exp * 1000 - Date.now() : 0;
      if (left > 0) this.#scheduleRenewal(Math.min(30000, Math.max(1000, left / 2)));
    }).finally(() => { this.#renewing = null; });
    return this.#renewing;
  }

  async #fetchToken() {
    const token = await this.#opts.getToken();
    if (typeof token !== 'string' || token === '') {
      throw localError(401, 'ENOTOKEN', 'getToken() gave no token');
    }
    this.#setToken(token, 'getToken');
    return token;
  }

  #sendSession(token) {
    return this.#send({ method: 'POST', url: '/auth/session', data: { token } }, {}, false, true);
  }

  /** After an open: a token (fetched when missing or about to expire), then /auth/session. */
  async #authenticate() {
    try {
      const due = this.#renewalDue();
      if (typeof this.#opts.getToken === 'function' && (this.#token == null || (due !== null && due <= 0))) {
        await this.#fetchToken();
      }
      if (this.#token != null) await this.#sendSession(this.#token);
    } catch (error) {
      this.#emit('error', { error });
    }
  }

  #onClose(ws, ev) {
    if (ws !== this.#ws) return; // an older socket, already handled
    this.#ws = null;
    clearTimeout(this.#connectTimer);
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    const code = ev.code ?? 1006;
    const reason = ev.reason ?? '';
    for (const [id, entry] of this.#pending) {
      if (!entry.sent) continue;
      this.#settle(id, entry);
      entry.reject(localError(0, 'ECLOSED', `the connection closed before the reply came (close code ${code})`));
    }
    if (this.#closing) {
      this.#emit('close', { code, reason, wasClean: !!ev.wasClean, willReconnect: false });
      if (this.#afterClose) this.#afterClose();
      return;
    }
    const willReconnect = this.#opts.reconnect && this.#attempt < this.#opts.maxReconnects;
    this.#emit('close', { code, reason, wasClean: !!ev.wasClean, willReconnect });
    if (this.#closing) return; // a listener closed the client
    if (!willReconnect) {
      this.#closing = true;
      this.#failAll('ECLIENTCLOSED', this.#opts.reconnect ? `gave up reconnecting after ${this.#attempt} attempts` : 'the connection closed');
      this.#setState('closed');
      this.#readyReject(localError(0, 'ECLIENTCLOSED', `could not connect to ${this.#url}`));
      return;
    }
    const base = Math.min(this.#opts.reconnectMaxDelay, this.#opts.reconnectDelay * 2 ** this.#attempt);
    const delay = Math.round(base / 2 + (Math.random() * base) / 2); // "equal jitter"
    this.#attempt += 1;
    this.#setState(this.#everOpened ? 'reconnecting' : 'connecting');
    this.#emit('reconnecting', { attempt: this.#attempt, delay });
    if (this.#closing) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closing) this.#open();
    }, delay);
  }

  #retryNow() {
    if (!this.#retryTimer) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#open();
  }

  #onMessage(ws, data) {
    if (ws !== this.#ws) return;
    let msg;
    try {
      msg = decodeMessage(data);
    } catch (e) {
      this.#emit('error', { error: new Error(`unreadable message from the server: ${e.message}`) });
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.#emit('error', { error: new Error('a message from the server is not a JSON object') });
      return;
    }
    if ('status' in msg && msg.event_name === INPUT_EVENT) {
      // An answer to input (404, 429), not the call's reply.
      this.#emit('inputrefused', { id: msg.id, status: msg.status, detail: msg.detail });
      return;
    }
    if ('status' in msg) {
      const entry = 'id' in msg ? this.#pending.get(msg.id) : undefined;
      if (!entry || !entry.sent) return; // timed out, aborted, or not ours
      this.#settle(msg.id, entry);
      if (entry.full) entry.resolve(msg);
      else if (msg.status >= 200 && msg.status < 300) entry.resolve(msg.data === undefined ? null : msg.data);
      else entry.reject(WsRouterError.fromReply(msg));
      return;
    }
    if ('progress' in msg && 'id' in msg) {
      // A running call's progress (docs/protocol.md section 5.1), not a push.
      const entry = this.#pending.get(msg.id);
      if (entry && entry.sent && entry.onProgress) {
        try {
          entry.onProgress(msg.progress, msg);
        } catch (error) {
          this.#emit('error', { error });
        }
      }
      return;
    }
    this.#dispatchPush(msg);
  }

  #dispatchPush(msg) {
    const call = (fn, topic) => {
      try {
        fn(msg.data, msg);
      } catch (error) {
        this.#emit('error', { error, topic });
        if (typeof console !== 'undefined') console.error('wsrouter: a push listener threw:', error);
      }
    };
    if (msg.event_name === 'publish' && typeof msg.topic === 'string') {
      const t = this.#topics.get(msg.topic);
      if (t && Number.isSafeInteger(msg.offset) && typeof msg.epoch === 'string') {
        t.offset = msg.offset;
        t.epoch = msg.epoch;
      }
      if (t) for (const fn of [...t.handlers]) call(fn, msg.topic);
    }
    if (typeof msg.event_name === 'string') {
      const set = this.#listeners.get(msg.event_name);
      if (set) for (const fn of [...set]) call(fn);
    }
    const all = this.#listeners.get('*');
    if (all) for (const fn of [...all]) call(fn);
  }

  #resubscribe() {
    for (const [topic, t] of this.#topics) {
      if (t.pending) continue; // its subscribe request is still on its way
      // Resume after the last publication received (docs/protocol.md section 5.2).
      const args = t.epoch !== null ? { topic, since: { offset: t.offset, epoch: t.epoch } } : { topic };
      const p = this.post('/_/subscribe', undefined, args).then(
        (data) => {
          if (t.pending === p) t.pending = null;
          const recovered = data?.recovered === true;
          // Recovered: the replay that follows moves the position; not
          // recovered: what was missed is lost, and the topic goes on from here.
          if (!recovered) adoptPosition(t, data);
          this.#emit('resubscribed', { topic, recovered, offset: data?.offset ?? null, epoch: data?.epoch ?? null });
          return data;
        },
        (error) => {
          if (t.pending === p) t.pending = null;
          // Cut off again before the answer: the next reconnection tries again.
          if (error?.code === 'ECLOSED') return;
          if (this.#topics.get(topic) === t) this.#topics.delete(topic);
          this.#emit('error', { error, topic });
        },
      );
      t.pending = p;
    }
  }

  // ---- internals ---------------------------------------------------------------------

  #send(message, options, full, bypass = false) {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      return Promise.reject(localError(400, 'EBADREQUEST', 'the request must be an object'));
    }
    if (this.#state === 'closed') {
      return Promise.reject(localError(0, 'ECLIENTCLOSED', 'the client is closed'));
    }
    const opts = options ?? {};
    const msg = { ...message };
    if (msg.id === undefined || msg.id === null) {
      while (this.#pending.has(this.#nextId)) this.#nextId++;
      msg.id = this.#nextId++;
    } else if (this.#pending.has(msg.id)) {
      return Promise.reject(localError(400, 'EBADREQUEST', `id ${JSON.stringify(msg.id)} is already in use by a request in flight`));
    }
    // The client's token is added when the request is written, so a request that
    // waited in the queue goes with the token renewed meanwhile.
    const ownToken = msg.token === undefined;
    let text;
    try {
      text = this.#encode(msg, ownToken);
    } catch (e) {
      return Promise.reject(localError(400, 'EENCODE', `the request cannot be encoded as JSON: ${e.message}`));
    }
    const signal = opts.signal;
    if (signal && signal.aborted) {
      return Promise.reject(localError(0, 'EABORTED', 'the request was aborted'));
    }
    const offline = !(this.#ws && this.#ws.readyState === OPEN && this.#state === 'open')
      || (this.#authGate && !bypass);
    if (offline && this.#queue.length >= this.#opts.queueSize) {
      const n = this.#opts.queueSize;
      return Promise.reject(localError(503, 'EQUEUEFULL',
        `the offline queue is full (${n} request${n === 1 ? '' : 's'} waiting for the connection); this one was not sent`));
    }
    return new Promise((resolve, reject) => {
      const id = msg.id;
      const entry = {
        text, msg, ownToken, token: this.#token, resolve, reject, full, timer: null, sent: false, cleanup: null,
        onProgress: typeof opts.onProgress === 'function' ? opts.onProgress : null,
      };
      const timeout = opts.timeout ?? this.#opts.timeout;
      if (timeout > 0) {
        entry.timer = setTimeout(() => {
          if (this.#pending.get(id) !== entry) return;
          this.#settle(id, entry);
          this.#cancelOnServer(entry);
          reject(localError(408, 'ETIMEDOUT',
            `request timed out on the client after ${timeout} ms with no reply${entry.sent ? '' : ' (never sent: still waiting for the connection)'}`));
        }, timeout);
      }
      if (signal) {
        const onAbort = () => {
          if (this.#pending.get(id) !== entry) return;
          this.#settle(id, entry);
          this.#cancelOnServer(entry);
          reject(localError(0, 'EABORTED', 'the request was aborted'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending.set(id, entry);
      entry.id = id;
      if (offline) this.#queue.push(entry);
      else this.#transmit(entry);
    });
  }

  #encode(msg, ownToken) {
    const m = ownToken && this.#token != null ? { ...msg, token: this.#token } : msg;
    const text = JSON.stringify(m);
    return this.#opts.encoding === 'base64' ? encodeBase64(text) : text;
  }

  #transmit(entry) {
    entry.sent = true;
    entry.ws = this.#ws;
    try {
      if (entry.ownToken && entry.token !== this.#token) entry.text = this.#encode(entry.msg, true);
      this.#ws.send(entry.text);
    } catch (e) {
      this.#settle(entry.id, entry);
      entry.reject(localError(0, 'ECLOSED', `the request could not be sent: ${e.message}`));
    }
  }

  /** Tells the server to stop a call it is running for us (the `cancel` built-in,
   * docs/protocol.md section 5.1). Sent without an id: its answer is not awaited.
   * A call not sent yet, or sent on a connection since lost, has nothing to stop. */
  #cancelOnServer(entry) {
    if (!entry.sent || entry.ws !== this.#ws || !this.#ws || this.#ws.readyState !== OPEN) return;
    try {
      this.#ws.send(this.#encode({ cmd: 'cancel', args: { id: entry.id } }, true));
    } catch {
      // the connection is going: the server cancels its calls itself
    }
  }

  /** Forgets an entry (answered, timed out, aborted or failed). */
  #settle(id, entry) {
    this.#pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.cleanup) entry.cleanup();
    if (!entry.sent) {
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#queue.splice(i, 1);
    }
  }

  #failAll(code, detail) {
    const entries = [...this.#pending];
    this.#queue = [];
    for (const [id, entry] of entries) {
      this.#settle(id, entry);
      entry.reject(localError(0, code, detail));
    }
  }

  #setState(state) {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#emit('statechange', { state, previous });
  }

  #emit(type, detail) {
    this.dispatchEvent(makeEvent(type, detail));
  }
}

/**
 * Options of one request.
 * @typedef {object} RequestOptions
 * @property {number} [timeout] ms before the promise rejects with 408 (0: never);
 *   defaults to the client's `timeout`
 * @property {AbortSignal} [signal] rejects the request (code EABORTED) when aborted,
 *   and cancels it on the server when it was sent (the `cancel` built-in)
 * @property {(progress: any, message: object) => void} [onProgress] called with each
 *   progress message of the call, in order, before the promise settles
 * @property {string} [token] the `token` member for this request
 * @property {any} [event_name] the `event_name` member (echoed in the reply)
 * @property {any} [data] a body, for `call()` and `delete()`
 */

/**
 * A reply (docs/protocol.md section 4).
 * @typedef {object} Reply
 * @property {number} status
 * @property {any} [data]
 * @property {string} [detail]
 * @property {Object<string,string>} [errors]
 * @property {string[]} [allow]
 * @property {string|number} [id]
 * @property {any} event_name
 */

function withOptions(message, options) {
  if (options) {
    if (options.token !== undefined) message.token = options.token;
    if (options.event_name !== undefined) message.event_name = options.event_name;
    if (options.data !== undefined && message.data === undefined) message.data = options.data;
  }
  if (message.args === undefined || message.args === null) delete message.args;
  if (message.data === undefined) delete message.data;
  return message;
}

function copyMessage(message, options) {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return message;
  return withOptions({ ...message }, options);
}

function resolveUrl(url) {
  if (typeof url !== 'string' || url === '') throw new TypeError('the URL must be a non-empty string');
  if (/^wss?:\/\//i.test(url)) return url;
  const loc = globalThis.location;
  if (loc && typeof loc.href === 'string' && /^https?:/.test(loc.protocol)) {
    const u = new URL(url, loc.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }
  if (/^https?:\/\//i.test(url)) return url.replace(/^http/i, 'ws');
  throw new TypeError(`not a WebSocket URL: ${url}`);
}

/** The claims of a JWT, read without verifying it ({} when it is not one). */
function tokenClaims(token) {
  if (typeof token !== 'string') return {};
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(decodeBase64(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    return claims !== null && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

function now() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export default WsRouter;
