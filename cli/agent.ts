import { Agent } from '../agent/agent.js';
import { readInventory } from '../agent/inventory.js';
import { readBoardIdentity } from '../agent/sensors/device-tree.js';
import { readThermalZones } from '../agent/sensors/sysfs.js';
import { UsageError, intFlag, parse, requireFlag } from './args.js';
import { createLogger, onShutdown } from './log.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parse(
    'agent',
    argv,
    {
      broker: { type: 'string' },
      id: { type: 'string' },
      token: { type: 'string' },
      controller: { type: 'string' },
      heartbeat: { type: 'string' },
      keepalive: { type: 'string' },
    },
    false,
  );
  const broker = requireFlag('agent', 'broker', values.broker);
  if (!/^(mqtts?|wss?|tcp):\/\//.test(broker)) throw new UsageError(`agent: --broker must be a URL like mqtt://host:1883, got '${broker}'`);
  const id = requireFlag('agent', 'id', values.id);
  // The token may come from the environment so it stays out of `ps` and shell history.
  const token = values.token ?? process.env.EDGEFIT_TOKEN;
  if (!token) throw new UsageError('agent: --token (or EDGEFIT_TOKEN) is required');
  const heartbeatSeconds = intFlag('agent', 'heartbeat', values.heartbeat, 10, 1, 59);
  const keepaliveSeconds = intFlag('agent', 'keepalive', values.keepalive, 15, 2, 600);

  const log = createLogger('agent');
  const board = await readBoardIdentity();
  const inventory = await readInventory(board?.model ?? null);
  const agent = Agent.start({
    brokerUrl: broker,
    id,
    token,
    controllerUrl: values.controller,
    inventory,
    temperature: hottestZone,
    heartbeatSeconds,
    keepaliveSeconds,
    log,
  });
  onShutdown(log, () => agent.stop());
}

async function hottestZone(): Promise<number | null> {
  const temps = (await readThermalZones()).map((z) => z.tempC).filter((t): t is number => t !== null);
  return temps.length ? Math.max(...temps) : null;
}
