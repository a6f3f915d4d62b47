import { CONTROLLER_USER } from '../registry.js';
import { deviceAcls, deviceOfRole, deviceRole, type Acl } from './acl.js';

// The plugin's commands for edgefit's device lifecycle, and the reconcile
// plan: pure functions of the registry and of what the broker holds, so each
// decision is tested without a broker (test/controller/dynsec-plan.test.ts).

export interface DynsecCommand {
  command: string;
  [field: string]: unknown;
}

/**
 * Answers the plugin gives that leave the broker as the command meant it:
 * a role that is there already, a client or role that is gone already.
 */
export const SETTLED_ERRORS: Readonly<Record<string, string>> = {
  createRole: 'Role already exists',
  deleteClient: 'Client not found',
  deleteRole: 'Role not found',
};

/**
 * A device's role with its ACLs and its client with `token`, in one message.
 * A client left over under that name (a device removed while the controller
 * was away from the broker) is deleted first: the plugin then kicks whoever
 * is connected as it, and its old password is gone.
 */
export function provisionDevice(id: string, token: string): DynsecCommand[] {
  const rolename = deviceRole(id);
  return [
    { command: 'createRole', rolename, textname: `edgefit device ${id}: its own topics only`, acls: deviceAcls(id) },
    { command: 'deleteClient', username: id },
    { command: 'createClient', username: id, password: token, textname: 'edgefit device', roles: [{ rolename }] },
  ];
}

/** The plugin kicks a client whose password changes: its next connection needs the new token. */
export function setDevicePassword(id: string, token: string): DynsecCommand[] {
  return [{ command: 'setClientPassword', username: id, password: token }];
}

/** The plugin kicks the deleted client without its will (plugins/dynamic-security/clients.c). */
export function revokeDevice(id: string): DynsecCommand[] {
  return [
    { command: 'deleteClient', username: id },
    { command: 'deleteRole', rolename: deviceRole(id) },
  ];
}

/** What the broker holds, as its verbose listClients and listRoles say. */
export interface BrokerView {
  /** username → its roles' names */
  clients: ReadonlyMap<string, readonly string[]>;
  /** rolename → its ACLs */
  roles: ReadonlyMap<string, readonly Acl[]>;
}

export interface ReconcilePlan {
  commands: DynsecCommand[];
  /**
   * Active devices without a client. The registry keeps hashes only and the
   * plugin takes a new password in plain text only, so no token can be put
   * back: `devices rotate-token ID` makes the client with a new one.
   */
  missing: string[];
}

const aclKey = (a: Pick<Acl, 'acltype' | 'topic'>) => `${a.acltype} ${a.topic}`;

/**
 * Brings the broker in step with the registry: every active device's role
 * with exactly its ACLs and its client in that role; no client of a removed
 * device; no device role (nor its client) without an active device. Clients
 * and roles edgefit did not make (no `edgefit-device-` role) are left alone,
 * and so is the controller's own.
 */
export function reconcilePlan(active: readonly string[], removed: readonly string[], broker: BrokerView): ReconcilePlan {
  const commands: DynsecCommand[] = [];
  const missing: string[] = [];
  const activeSet = new Set(active);
  for (const id of active) {
    const rolename = deviceRole(id);
    const want = deviceAcls(id);
    const have = broker.roles.get(rolename);
    if (!have) commands.push({ command: 'createRole', rolename, textname: `edgefit device ${id}: its own topics only`, acls: want });
    else {
      const wanted = new Map(want.map((a) => [aclKey(a), a]));
      const held = new Map(have.map((a) => [aclKey(a), a]));
      for (const [key, a] of held) {
        if (wanted.get(key)?.allow !== a.allow) commands.push({ command: 'removeRoleACL', rolename, acltype: a.acltype, topic: a.topic });
      }
      for (const [key, a] of wanted) {
        if (held.get(key)?.allow !== a.allow) commands.push({ command: 'addRoleACL', rolename, ...a });
      }
    }
    const roles = broker.clients.get(id);
    if (!roles) missing.push(id);
    else if (!roles.includes(rolename)) commands.push({ command: 'addClientRole', username: id, rolename });
  }
  const deleted = new Set<string>();
  const deleteClient = (username: string) => {
    if (username === CONTROLLER_USER || activeSet.has(username) || deleted.has(username) || !broker.clients.has(username)) return;
    deleted.add(username);
    commands.push({ command: 'deleteClient', username });
  };
  for (const id of removed) deleteClient(id);
  for (const rolename of broker.roles.keys()) {
    const id = deviceOfRole(rolename);
    if (id === undefined || activeSet.has(id)) continue;
    commands.push({ command: 'deleteRole', rolename });
    deleteClient(id);
  }
  return { commands, missing };
}
