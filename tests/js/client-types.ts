// SPDX-License-Identifier: MIT
// Not run: type-checked by client.test.mjs (tsc --noEmit --strict) so that
// www/wsrouter.d.ts stays usable and in step with the library's API.
import WsRouterDefault, {
  WsRouter,
  WsRouterError,
  SUBPROTOCOL,
  VERSION,
  DEFAULTS,
  encodeBase64,
  decodeBase64,
  type Reply,
  type ConnectionState,
  type RequestOptions,
  type TokenReply,
} from '../../www/wsrouter.js';

interface Counter {
  key: string;
  value: number | null;
}

export async function example(WS: new (url: string, protocols?: string | string[]) => unknown): Promise<void> {
  const client: WsRouter = await WsRouter.connect('ws://127.0.0.1:8080/', {
    WebSocket: WS,
    encoding: 'base64',
    protocols: SUBPROTOCOL,
    token: 'abc',
    timeout: 1000,
    queueSize: 10,
    reconnectDelay: 100,
    reconnectMaxDelay: 1000,
  });
  const other = new WsRouterDefault('/', { reconnect: false, protocols: null });
  const renewing = new WsRouter('ws://127.0.0.1:8080/', {
    getToken: async () => 'fresh',
    refreshAt: 0.5,
  });
  renewing.addEventListener('token', (ev) => {
    const t: string = ev.detail.token;
    const at: number | null = ev.detail.expiresAt;
    void t;
    void at;
  });
  const who: TokenReply = await new WsRouter('/', { refresh: true }).login('u', 'p');
  const roles: string[] = who.roles;
  void roles;
  await renewing.logout();
  renewing.token = undefined;
  await other.ready;
  const state: ConnectionState = client.state;
  const sum: number = await client.call<number>('add', { x: 1, y: 2 });
  const hello: string = await client.get('/hello');
  await client.post('/counters/a', undefined, { value: 3 });
  await client.put('/echo', { a: 1 });
  await client.patch('/echo', [1]);
  await client.delete('/counters/a', undefined, { timeout: 10 });
  const opts: RequestOptions = { timeout: 5, signal: new AbortController().signal, event_name: 'x' };
  await client.request({ method: 'GET', url: '/_/ping', id: 'p' }, opts);
  const reply: Reply<number> = await client.fetch<number>({ cmd: 'add', args: { x: 1 } });
  const status: number = reply.status;
  const rtt: number = await client.ping();
  const off: () => void = client.on<{ seq: number }>('tick', (data, msg) => {
    const seq: number = data.seq;
    void seq;
    void msg.event_name;
  });
  off();
  client.off('tick');
  const sub: { subscribed: string } = await client.subscribe<Counter>('counters', (c) => {
    const v: number | null = c.value;
    void v;
  });
  await client.unsubscribe('counters');
  const pub: { delivered: number } = await client.publish('counters', { key: 'a', value: 1 });
  client.addEventListener('reconnecting', (ev) => {
    const attempt: number = ev.detail.attempt;
    const delay: number = ev.detail.delay;
    void attempt;
    void delay;
  });
  client.addEventListener('statechange', (ev) => {
    const s: ConnectionState = ev.detail.state;
    void s;
  });
  client.addEventListener('close', (ev) => void ev.detail.willReconnect);
  try {
    await client.call('fail');
  } catch (e) {
    if (e instanceof WsRouterError) {
      const s: number = e.status;
      const allow: string[] | undefined = e.allow;
      const errors: Record<string, string> | undefined = e.errors;
      const local: boolean = e.local;
      void [s, allow, errors, local, e.code, e.detail];
    }
  }
  const n: number = client.queued + client.inFlight;
  const topics: string[] = client.topics;
  const text: string = decodeBase64(encodeBase64('ü'));
  void [state, sum, hello, status, rtt, sub, pub, n, topics, text, VERSION, DEFAULTS.timeout];
  await client.close(1000, 'bye');
}
