// jwt.mjs: mint compact JWTs (HS256 / RS256 / ES256, and deliberately broken
// ones) with node:crypto, and make the key files wsgate reads
// (--jwt-secret / --jwt-public-key), for the auth tests.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** base64url without padding, of a Buffer or a string (UTF-8). */
export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** The current time in whole seconds (a JWT NumericDate). */
export const nowS = () => Math.floor(Date.now() / 1000);

/**
 * Sign `header.payload` for `alg` with `key`:
 *  - HS256: key is the HMAC secret (string or Buffer);
 *  - RS256: key is a private KeyObject or PEM (RSA);
 *  - ES256: key is a private KeyObject or PEM (EC P-256); the signature is
 *    the JOSE form R||S (64 bytes), not DER.
 *  - none: empty signature.
 */
export function sign(alg, signingInput, key) {
  switch (alg) {
    case 'HS256':
      return crypto.createHmac('sha256', key).update(signingInput).digest();
    case 'RS256':
      return crypto.sign('sha256', Buffer.from(signingInput), key);
    case 'ES256':
      return crypto.sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    case 'none':
      return Buffer.alloc(0);
    default:
      throw new Error(`jwt.mjs: unsupported alg ${alg}`);
  }
}

/**
 * A compact JWT. claims is the payload object; opts.alg (default HS256),
 * opts.key (secret or private key), opts.header (extra/overriding header
 * fields, e.g. {alg:'none'} to lie about the algorithm).
 * A default exp of now+300 s is added unless claims has an own `exp` key
 * (set exp: undefined to leave it out).
 */
export function mint(claims, { alg = 'HS256', key, header = {} } = {}) {
  const body = { ...claims };
  if (!Object.hasOwn(claims, 'exp')) body.exp = nowS() + 300;
  if (body.exp === undefined) delete body.exp;
  const h = { alg, typ: 'JWT', ...header };
  const input = `${b64url(JSON.stringify(h))}.${b64url(JSON.stringify(body))}`;
  return `${input}.${b64url(sign(alg, input, key))}`;
}

/** A random HS256 secret (printable, so it can go in a file as text). */
export function randomSecret() {
  return crypto.randomBytes(32).toString('hex');
}

/** An RSA 2048 key pair: {privateKey (KeyObject), publicPem}. */
export function rsaKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

/** An EC P-256 key pair: {privateKey (KeyObject), publicPem}. */
export function ecKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

/** Write `content` to dir/name (mode 0600) and return the path. */
export function writeKeyFile(dir, name, content) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content, { mode: 0o600 });
  return p;
}
