import type { Logger } from 'pino';
import type { Registry } from '../registry.js';
import type { Acl } from './acl.js';
import { provisionDevice, reconcilePlan, revokeDevice, setDevicePassword, type BrokerView, type DynsecCommand } from './commands.js';
import { DynsecCommandError, DynsecControl, type DynsecControlOptions } from './control.js';

// Keeps Mosquitto's dynamic-security plugin in step with the registry: each
// add, rotation and removal at once, and the whole registry on every
// (re)connect, so a broker restarted from an old file, or changes missed
// while it was away, are set right without files or SIGHUP.

/** Rows per listClients / listRoles answer: a verbose role is about 1 KB, and an answer must stay well under a packet limit. */
const PAGE = 500;
/** Commands per message when reconciling a large fleet. */
const BATCH = 200;

export interface DynsecSyncOptions extends Omit<DynsecControlOptions, 'onConnect'> {
  registry: Registry;
}

export class DynsecSync {
  private constructor(
    private readonly control: DynsecControl,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  /** Connects as the plugin's admin and reconciles; a broker whose plugin does not answer ends the start with one line. */
  static async start(opts: DynsecSyncOptions): Promise<DynsecSync> {
    let sync: DynsecSync | undefined;
    const control = await DynsecControl.connect({ ...opts, onConnect: async () => void (await sync?.reconcile()) });
    sync = new DynsecSync(control, opts.registry, opts.log);
    try {
      await sync.reconcile();
    } catch (err) {
      await control.close();
      throw err;
    }
    return sync;
  }

  /** A new device's role and client with its token; a client left over under its id is replaced. */
  async provision(id: string, token: string): Promise<void> {
    await this.control.send(provisionDevice(id, token));
  }

  /** A new token for a device; a device whose client is missing gets it made. */
  async rotate(id: string, token: string): Promise<void> {
    const [answer] = await this.control.exchange(setDevicePassword(id, token));
    if (answer.error === 'Client not found') return this.provision(id, token);
    if (answer.error !== undefined) throw new DynsecCommandError(`the broker's dynamic-security plugin refused setClientPassword: ${answer.error}`);
  }

  async revoke(id: string): Promise<void> {
    await this.control.send(revokeDevice(id));
  }

  /** Brings the broker in step with the registry (commands.ts reconcilePlan); answers what it changed and who has no client. */
  async reconcile(): Promise<{ changed: number; missing: string[] }> {
    const broker = await this.read();
    const plan = reconcilePlan(
      this.registry.list().map((d) => d.id),
      this.registry.removedIds(),
      broker,
    );
    for (let i = 0; i < plan.commands.length; i += BATCH) await this.control.send(plan.commands.slice(i, i + BATCH));
    if (plan.commands.length > 0) this.log.info({ commands: plan.commands.length, kinds: countKinds(plan.commands) }, 'dynamic security: broker brought in step with the registry');
    if (plan.missing.length > 0) {
      this.log.warn(
        { devices: plan.missing.slice(0, 20), count: plan.missing.length },
        "dynamic security: registered devices have no client on the broker and their tokens cannot be put back from the stored hashes: give each a new token with 'edgefit devices rotate-token ID'",
      );
    }
    return { changed: plan.commands.length, missing: plan.missing };
  }

  private async read(): Promise<BrokerView> {
    const clients = new Map<string, string[]>();
    const roles = new Map<string, Acl[]>();
    for (let offset = 0; ; offset += PAGE) {
      const data = (await this.list('listClients', offset)) as { totalCount: number; clients: Array<{ username: string; roles?: Array<{ rolename: string }> }> };
      for (const c of data.clients) clients.set(c.username, (c.roles ?? []).map((r) => r.rolename));
      if (offset + PAGE >= data.totalCount) break;
    }
    for (let offset = 0; ; offset += PAGE) {
      const data = (await this.list('listRoles', offset)) as { totalCount: number; roles: Array<{ rolename: string; acls?: Acl[] }> };
      for (const r of data.roles) roles.set(r.rolename, r.acls ?? []);
      if (offset + PAGE >= data.totalCount) break;
    }
    return { clients, roles };
  }

  private async list(command: 'listClients' | 'listRoles', offset: number): Promise<unknown> {
    const [answer] = await this.control.send([{ command, verbose: true, count: PAGE, offset }]);
    if (!answer.data || typeof answer.data !== 'object') throw new Error(`dynamic security: ${command} answered without data`);
    return answer.data;
  }

  async close(): Promise<void> {
    await this.control.close();
  }
}

function countKinds(commands: DynsecCommand[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const c of commands) kinds[c.command] = (kinds[c.command] ?? 0) + 1;
  return kinds;
}
