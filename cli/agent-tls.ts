// The agent's TLS flags: --ca FILE (or EDGEFIT_CA), --cert FILE, --key FILE.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tlsEndpoints } from '../agent/tls/trust.js';
import { UsageError } from './args.js';

/**
 * --ca FILE (or EDGEFIT_CA), --cert FILE and --key FILE, read and checked now:
 * a file that is not PEM, or a key that is not the certificate's, is one line
 * (exit 2) rather than a handshake failure every few seconds.
 */
export function readTlsFlags(values: { ca?: string; cert?: string; key?: string }, broker: string, controllerUrl: string | undefined) {
  const endpoints = tlsEndpoints([
    { role: 'the broker', url: broker },
    { role: 'the controller', url: controllerUrl },
  ]);
  const caFile = values.ca ?? (process.env.EDGEFIT_CA || undefined);
  const flag = values.ca !== undefined ? '--ca' : 'EDGEFIT_CA';
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError("agent: --cert and --key go together (this device's certificate and its key)");
  if (endpoints.length === 0 && (values.ca !== undefined || values.cert !== undefined)) {
    throw new UsageError(`agent: ${values.ca !== undefined ? '--ca' : '--cert'} is for TLS, and neither --broker (${broker}) nor --controller is an mqtts:// or https:// URL`);
  }
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`agent: cannot read ${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const certificate = (name: string, file: string, pem: string) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new UsageError(`agent: ${name} ${file}: not a PEM certificate (${(err as Error).message})`);
    }
  };
  let ca: { pem: string; file: string } | undefined;
  if (caFile !== undefined && endpoints.length > 0) {
    const pem = read(flag, caFile);
    certificate(flag, caFile, pem);
    ca = { pem, file: caFile };
  }
  let client: { cert: string; key: string } | undefined;
  if (values.cert !== undefined && values.key !== undefined) {
    const cert = read('--cert', values.cert);
    const key = read('--key', values.key);
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (err) {
      throw new UsageError(`agent: --key ${values.key}: not a PEM private key (${(err as Error).message})`);
    }
    if (!certificate('--cert', values.cert, cert).checkPrivateKey(privateKey)) throw new UsageError(`agent: --key ${values.key} is not the key of --cert ${values.cert}`);
    client = { cert, key };
  }
  return { endpoints, ca, client };
}
