import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * Wraps a client socket and destroys it as soon as an MQTT packet header
 * announces more than `limit` bytes, before the broker buffers the body. It
 * reads only the fixed header (type byte + variable-length remaining length).
 */
export class MqttFrameGuard extends Duplex {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private remaining = 0;

  constructor(
    private readonly socket: Socket,
    private readonly limit: number,
    private readonly onReject: (announced: number) => void,
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
        i++;
      } else if (this.state === 'length') {
        const byte = chunk[i++];
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        if (this.length > this.limit) {
          this.onReject(this.length);
          this.destroy();
          return false;
        }
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
