// pair.mjs: the fixture of tests that need a gateway without auth and one with
// JWT auth on the same nats-server: a temporary directory with the HS256 key,
// both gateways, and a JetStream publisher.
import { startNats } from './nats.mjs';
import { startGateway } from './gateway.mjs';
import { natsClient } from './nats.mjs';
import { mkTmp, rmTmp } from './util.mjs';
import { randomSecret, writeKeyFile } from './jwt.mjs';

/**
 * Start nats-server, gateway `gw` (no auth) and `gw-auth` (--jwt-secret);
 * resolves {dir, secret, nats, gw, gwAuth, pub, stop()}, stop() ending all of them.
 */
export async function startGatewayPair(prefix) {
  const env = { dir: mkTmp(prefix), secret: randomSecret() };
  const secretFile = writeKeyFile(env.dir, 'secret', env.secret);
  env.nats = await startNats();
  [env.gw, env.gwAuth] = await Promise.all([
    startGateway({ natsUrl: env.nats.url, name: 'gw' }),
    startGateway({ natsUrl: env.nats.url, name: 'gw-auth', args: ['--jwt-secret', secretFile] }),
  ]);
  env.pub = await natsClient(env.nats.url);
  env.stop = async () => {
    await env.pub?.close();
    await Promise.all([env.gw, env.gwAuth].filter(Boolean).map((g) => g.stop()));
    await env.nats?.stop();
    rmTmp(env.dir);
  };
  return env;
}
