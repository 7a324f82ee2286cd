// The echo service's server side (grpc-echo.ts holds its definition): the app of the cluster's
// gRPC tests (grpc-app.ts) and the in-process app of the component tests.

import * as grpc from '@grpc/grpc-js';
import {
  type CountReply,
  type Empty,
  echoService,
  type FailRequest,
  type StreamReply,
  type StreamRequest,
  type TextMessage,
  type TextReply,
  type UnaryRequest,
} from './grpc-echo.ts';

/** The five handlers, answering as `pod`. */
export function echoHandlers(pod: string): grpc.UntypedServiceImplementation {
  const unary: grpc.handleUnaryCall<UnaryRequest, TextReply> = (call, callback) => {
    const { text, delayMs = 0 } = call.request;
    const answer = () => callback(null, { text, pod });
    if (delayMs <= 0) return answer();
    const timer = setTimeout(answer, delayMs);
    call.on('cancelled', () => clearTimeout(timer));
  };

  /** Message 0 at once, then one every intervalMs; the stream ends with the last one. */
  const serverStream: grpc.handleServerStreamingCall<StreamRequest, StreamReply> = (call) => {
    const { count, intervalMs } = call.request;
    let seq = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = () => {
      if (seq >= count) return call.end();
      call.write({ seq: seq++, pod, sentAt: Date.now() });
      if (seq >= count) return call.end();
      timer = setTimeout(send, intervalMs);
    };
    call.on('cancelled', () => clearTimeout(timer));
    send();
  };

  const clientStream: grpc.handleClientStreamingCall<TextMessage, CountReply> = (call, callback) => {
    let count = 0;
    call.on('data', () => count++);
    call.on('end', () => callback(null, { count, pod }));
  };

  const bidi: grpc.handleBidiStreamingCall<TextMessage, TextReply> = (call) => {
    call.on('data', (m: TextMessage) => call.write({ text: m.text, pod }));
    call.on('end', () => call.end());
  };

  const fail: grpc.handleUnaryCall<FailRequest, Empty> = (call, callback) => {
    callback({ code: call.request.code, details: call.request.message });
  };
  return { Unary: unary, ServerStream: serverStream, ClientStream: clientStream, Bidi: bidi, Fail: fail };
}

/** A grpc-js server of the echo service on host:port (0: any free port), over h2c. */
export function startEchoServer(
  host: string,
  port: number,
  pod: string,
): Promise<{ readonly server: grpc.Server; readonly port: number }> {
  const server = new grpc.Server();
  server.addService(echoService, echoHandlers(pod));
  return new Promise((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve({ server, port: bound }),
    ),
  );
}
