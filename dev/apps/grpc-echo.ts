// The gRPC echo service of the local cluster's tests, without a protobuf compiler: each message is
// JSON in its gRPC frame. dev/apps/grpc-app.ts serves it; the tests call it with `echoClient`.

import * as grpc from '@grpc/grpc-js';

export const echoServiceName = 'zeroscale.test.Echo';

export interface UnaryRequest {
  readonly text: string;
  /** The app waits this long before it answers. */
  readonly delayMs?: number;
}
/** What Unary and each Bidi message answer: the text back, and the pod that answered. */
export interface TextReply {
  readonly text: string;
  readonly pod: string;
}
export interface StreamRequest {
  readonly count: number;
  readonly intervalMs: number;
}
export interface StreamReply {
  readonly seq: number;
  readonly pod: string;
  /** Date.now() in the app when it wrote the message. */
  readonly sentAt: number;
}
export interface TextMessage {
  readonly text: string;
}
export interface CountReply {
  readonly count: number;
  readonly pod: string;
}
/** Fail answers with this gRPC status code and message (grpc-status and grpc-message). */
export interface FailRequest {
  readonly code: grpc.status;
  readonly message: string;
}
export type Empty = Record<string, never>;

const toJson = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const fromJson = <T>(bytes: Buffer): T => JSON.parse(bytes.toString('utf8')) as T;

function method<Req, Res>(
  name: string,
  requestStream: boolean,
  responseStream: boolean,
): grpc.MethodDefinition<Req, Res> {
  return {
    path: `/${echoServiceName}/${name}`,
    originalName: name,
    requestStream,
    responseStream,
    requestSerialize: toJson,
    requestDeserialize: fromJson<Req>,
    responseSerialize: toJson,
    responseDeserialize: fromJson<Res>,
  };
}

export const echoService = {
  Unary: method<UnaryRequest, TextReply>('Unary', false, false),
  ServerStream: method<StreamRequest, StreamReply>('ServerStream', false, true),
  ClientStream: method<TextMessage, CountReply>('ClientStream', true, false),
  Bidi: method<TextMessage, TextReply>('Bidi', true, true),
  Fail: method<FailRequest, Empty>('Fail', false, false),
} satisfies grpc.ServiceDefinition;

/** The client `makeGenericClientConstructor` makes for `echoService`, typed. */
export interface EchoClient extends grpc.Client {
  Unary(
    req: UnaryRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<TextReply>,
  ): grpc.ClientUnaryCall;
  ServerStream(req: StreamRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<StreamReply>;
  ClientStream(
    options: grpc.CallOptions,
    callback: grpc.requestCallback<CountReply>,
  ): grpc.ClientWritableStream<TextMessage>;
  Bidi(options?: grpc.CallOptions): grpc.ClientDuplexStream<TextMessage, TextReply>;
  Fail(
    req: FailRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<Empty>,
  ): grpc.ClientUnaryCall;
}

/**
 * A client of the echo service at `address` (host:port) over h2c. One client is one HTTP/2
 * connection: its own subchannel pool (grpc-js otherwise shares one connection among clients with
 * equal options), and never an HTTP proxy from the environment (the address is all the traffic
 * may go to). `authority` is the `:authority` of every call (the Host a proxy routes by), so a
 * call to 127.0.0.1:8080 reaches the service whose host that is.
 */
export function echoClient(
  address: string,
  authority?: string,
  options: Partial<grpc.ChannelOptions> = {},
): EchoClient {
  const Client = grpc.makeGenericClientConstructor(echoService, echoServiceName);
  return new Client(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_http_proxy': 0,
    ...(authority === undefined ? {} : { 'grpc.default_authority': authority }),
    ...options,
  }) as unknown as EchoClient;
}

/** A call's deadline `ms` from now. */
export const within = (ms: number): grpc.CallOptions => ({ deadline: Date.now() + ms });

export function unary(client: EchoClient, req: UnaryRequest, timeoutMs = 60_000): Promise<TextReply> {
  return new Promise((resolve, reject) =>
    client.Unary(req, within(timeoutMs), (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

/** Calls Fail; resolves with the error the client got (it rejects if the call succeeded). */
export function fail(client: EchoClient, req: FailRequest, timeoutMs = 60_000): Promise<grpc.ServiceError> {
  return new Promise((resolve, reject) =>
    client.Fail(req, within(timeoutMs), (err) =>
      err ? resolve(err) : reject(new Error('Fail answered OK')),
    ),
  );
}

export interface Received<T> {
  readonly message: T;
  /** Date.now() in the client when the message arrived. */
  readonly receivedAt: number;
}

/** All messages of a server stream with when each arrived, and when the stream ended. */
export function serverStream(
  client: EchoClient,
  req: StreamRequest,
  timeoutMs = 60_000,
): Promise<{ messages: Received<StreamReply>[]; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const messages: Received<StreamReply>[] = [];
    const call = client.ServerStream(req, within(timeoutMs));
    call.on('data', (message: StreamReply) => messages.push({ message, receivedAt: Date.now() }));
    call.on('error', reject);
    // 'status' comes after the last message and the trailers: the end of the stream.
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ messages, endedAt: Date.now() });
    });
  });
}

export function clientStream(
  client: EchoClient,
  texts: readonly string[],
  timeoutMs = 60_000,
): Promise<CountReply> {
  return new Promise((resolve, reject) => {
    const call = client.ClientStream(within(timeoutMs), (err, res) => (err ? reject(err) : resolve(res!)));
    for (const text of texts) call.write({ text });
    call.end();
  });
}

/**
 * Sends each text only after the echo of the one before has arrived, so the call proves that
 * messages flow both ways while the stream is open; resolves with the echoes.
 */
export function bidi(client: EchoClient, texts: readonly string[], timeoutMs = 60_000): Promise<TextReply[]> {
  return new Promise((resolve, reject) => {
    const echoes: TextReply[] = [];
    const call = client.Bidi(within(timeoutMs));
    const next = () =>
      echoes.length < texts.length ? call.write({ text: texts[echoes.length]! }) : call.end();
    call.on('data', (reply: TextReply) => {
      echoes.push(reply);
      next();
    });
    call.on('error', reject);
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve(echoes);
    });
    next();
  });
}
