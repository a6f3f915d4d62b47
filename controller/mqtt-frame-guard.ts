import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** Why a stream was cut: a packet announced over the limit, or a length field MQTT does not allow. */
export type FrameRejection = { reason: 'too-large'; announced: number } | { reason: 'malformed' };

/** MQTT's remaining length is at most four bytes (up to 268,435,455). */
const MAX_LENGTH_BYTES = 4;

/**
 * Wraps a client socket and destroys it as soon as an MQTT packet header
 * announces more than `limit` bytes, before the broker buffers the body, or
 * its length field runs past four bytes (a stream of 0x80 bytes would
 * otherwise keep the length at 0 forever while the bytes go on to the broker).
 * It reads only the fixed header (type byte + variable-length remaining length).
 */
export class MqttFrameGuard extends Duplex {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(
    private readonly socket: Socket,
    private readonly limit: number,
    private readonly onReject: (rejection: FrameRejection) => void,
  ) {
    super();
    socket.on('data', (chunk: Buffer) => {
      if (!this.scan(chunk)) return;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  /** False once the stream was rejected. */
  private scan(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        i++;
      } else if (this.state === 'length') {
        const byte = chunk[i++];
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (this.length > this.limit) return this.reject({ reason: 'too-large', announced: this.length });
        if ((byte & 0x80) !== 0 && this.lengthBytes === MAX_LENGTH_BYTES) return this.reject({ reason: 'malformed' });
        if ((byte & 0x80) === 0) {
          this.remaining = this.length;
          this.state = this.remaining === 0 ? 'type' : 'body';
        }
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
    return true;
  }

  private reject(rejection: FrameRejection): false {
    this.onReject(rejection);
    this.destroy();
    return false;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
