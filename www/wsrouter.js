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
 *   `ECLOSED`), never sent twice: the server may have acted on them.
 *
 * @module wsrouter
 */

/** The library's version. */
export const VERSION = '1.0.0';

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
});

const OPEN = 1; // WebSocket.OPEN, the same in browsers and in `ws`

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
 * A wsrouter client: one WebSocket, reconnected when it drops.
 *
 * It is an EventTarget; connection events are `CustomEvent`s with a `detail`:
 * - `open`: connected (`detail.reconnected` is true after a reconnection);
 * - `close`: the connection closed (`detail.code`, `detail.reason`, `detail.willReconnect`);
 * - `reconnecting`: a new attempt is scheduled (`detail.attempt`, `detail.delay` in ms);
 * - `statechange`: `detail.state` and `detail.previous` (see {@link WsRouter#state});
 * - `error`: something went wrong outside any request: an unreadable message, a failed
 *   re-subscription, a push listener that threw (`detail.error`, `detail.topic`).
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
  /** topic -> {handlers: Set, pending: boolean} */
  #topics = new Map();
  #readyResolve;
  #readyReject;
  #onOnline = null;

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
    /** The bearer token sent with every request that has no `token` of its own. */
    this.token = o.token;
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

  // ---- requests ---------------------------------------------------------------------

  /**
   * Sends one request message and resolves with the reply's `data`; rejects with a
   * WsRouterError for a non-2xx status or a local failure.
   *
   * The message is sent as given (every member of PROTOCOL.md section 3, and any
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
   * Measures a round trip with the built-in `ping` command.
   * @param {RequestOptions} [options]
   * @returns {Promise<number>} milliseconds
   */
  async ping(options) {
    const t0 = now();
    await this.call('ping', undefined, options);
    return now() - t0;
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
   * The subscription is renewed after every reconnection.
   * @param {string} topic
   * @param {(data: any, message: object) => void} fn
   * @param {RequestOptions} [options]
   * @returns {Promise<any>} the server's answer, `{subscribed: topic}`; on failure
   *   the handler is removed again
   */
  subscribe(topic, fn, options) {
    if (typeof topic !== 'string') return Promise.reject(localError(400, 'EBADREQUEST', 'subscribe(): the topic must be a string'));
    if (typeof fn !== 'function') return Promise.reject(localError(400, 'EBADREQUEST', 'subscribe(): the handler must be a function'));
    let t = this.#topics.get(topic);
    if (t) {
      t.handlers.add(fn);
      return t.pending ?? Promise.resolve({ subscribed: topic });
    }
    t = { handlers: new Set([fn]), pending: null };
    this.#topics.set(topic, t);
    const entry = t;
    t.pending = this.post('/_/subscribe', undefined, { topic }, options).then(
      (data) => {
        if (entry.pending) entry.pending = null;
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
    if (reconnected) this.#resubscribe();
    const queue = this.#queue;
    this.#queue = [];
    for (const entry of queue) this.#transmit(entry);
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
    if ('status' in msg) {
      const entry = 'id' in msg ? this.#pending.get(msg.id) : undefined;
      if (!entry || !entry.sent) return; // timed out, aborted, or not ours
      this.#settle(msg.id, entry);
      if (entry.full) entry.resolve(msg);
      else if (msg.status >= 200 && msg.status < 300) entry.resolve(msg.data === undefined ? null : msg.data);
      else entry.reject(WsRouterError.fromReply(msg));
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
      const p = this.post('/_/subscribe', undefined, { topic }).then(
        (data) => {
          if (t.pending === p) t.pending = null;
          return data;
        },
        (error) => {
          if (t.pending === p) t.pending = null;
          if (this.#topics.get(topic) === t) this.#topics.delete(topic);
          this.#emit('error', { error, topic });
        },
      );
      t.pending = p;
    }
  }

  // ---- internals ---------------------------------------------------------------------

  #send(message, options, full) {
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
    if (msg.token === undefined && this.token != null) msg.token = this.token;
    let text;
    try {
      text = JSON.stringify(msg);
      if (this.#opts.encoding === 'base64') text = encodeBase64(text);
    } catch (e) {
      return Promise.reject(localError(400, 'EENCODE', `the request cannot be encoded as JSON: ${e.message}`));
    }
    const signal = opts.signal;
    if (signal && signal.aborted) {
      return Promise.reject(localError(0, 'EABORTED', 'the request was aborted'));
    }
    const offline = !(this.#ws && this.#ws.readyState === OPEN && this.#state === 'open');
    if (offline && this.#queue.length >= this.#opts.queueSize) {
      const n = this.#opts.queueSize;
      return Promise.reject(localError(503, 'EQUEUEFULL',
        `the offline queue is full (${n} request${n === 1 ? '' : 's'} waiting for the connection); this one was not sent`));
    }
    return new Promise((resolve, reject) => {
      const id = msg.id;
      const entry = { text, resolve, reject, full, timer: null, sent: false, cleanup: null };
      const timeout = opts.timeout ?? this.#opts.timeout;
      if (timeout > 0) {
        entry.timer = setTimeout(() => {
          if (this.#pending.get(id) !== entry) return;
          this.#settle(id, entry);
          reject(localError(408, 'ETIMEDOUT',
            `request timed out on the client after ${timeout} ms with no reply${entry.sent ? '' : ' (never sent: still waiting for the connection)'}`));
        }, timeout);
      }
      if (signal) {
        const onAbort = () => {
          if (this.#pending.get(id) !== entry) return;
          this.#settle(id, entry);
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

  #transmit(entry) {
    entry.sent = true;
    try {
      this.#ws.send(entry.text);
    } catch (e) {
      this.#settle(entry.id, entry);
      entry.reject(localError(0, 'ECLOSED', `the request could not be sent: ${e.message}`));
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
 * @property {AbortSignal} [signal] rejects the request (code EABORTED) when aborted
 * @property {string} [token] the `token` member for this request
 * @property {any} [event_name] the `event_name` member (echoed in the reply)
 * @property {any} [data] a body, for `call()` and `delete()`
 */

/**
 * A reply (PROTOCOL.md section 4).
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

function now() {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export default WsRouter;
