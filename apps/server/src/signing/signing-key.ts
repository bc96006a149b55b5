import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { keyIdOf, publicKeyText } from '@parley/contracts';
import { ConfigError } from '../config/config';

/** The server's Ed25519 signing key, with its public half as `parley verify --key` takes it. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: string;
  keyId: string;
  file: string;
  /** True when this start created it. */
  created: boolean;
}

/**
 * Read the signing key (PARLEY_SIGNING_KEY_FILE), or create it on first start when it is the default
 * `<data dir>/signing-key.pem`: PKCS#8 PEM, mode 0600, created exclusively (two starts never write
 * two keys). A key file given by configuration must exist and hold an Ed25519 private key.
 */
export function loadSigningKey(file: string, given: boolean): SigningKey {
  let pem: string | undefined;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || given)
      throw new ConfigError(
        'PARLEY_SIGNING_KEY_FILE',
        `cannot read the signing key ${file} (${code ?? error})`,
      );
  }
  if (pem === undefined) return { ...create(file), created: true };
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError(
      'PARLEY_SIGNING_KEY_FILE',
      `${file} is not a PEM private key (${(error as Error).message})`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new ConfigError(
      'PARLEY_SIGNING_KEY_FILE',
      `${file} holds a ${privateKey.asymmetricKeyType} key, not an Ed25519 one`,
    );
  if ((statSync(file).mode & 0o077) !== 0)
    throw new ConfigError(
      'PARLEY_SIGNING_KEY_FILE',
      `${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}): chmod 600 it`,
    );
  const publicKey = publicKeyText(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), file, created: false };
}

function create(file: string): Omit<SigningKey, 'created'> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const publicKey = publicKeyText(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), file };
}
