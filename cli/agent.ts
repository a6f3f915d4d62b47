import { Agent } from '../agent/agent.js';
import { readInventory } from '../agent/inventory.js';
import { createSensors } from '../agent/sensors/index.js';
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
  const sensors = createSensors();
  const first = await sensors.snapshot();
  const inventory = await readInventory(first.board?.model ?? null);
  const agent = Agent.start({
    brokerUrl: broker,
    id,
    token,
    controllerUrl: values.controller,
    inventory,
    temperature: async () => (await sensors.snapshot()).temperatureC,
    heartbeatSeconds,
    keepaliveSeconds,
    log,
  });
  onShutdown(log, async () => {
    await agent.stop();
    await sensors.close();
  });
}
