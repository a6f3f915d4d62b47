import { hashToken, pbkdf2Fields } from '../credentials.js';
import { CONTROLLER_USER } from '../registry.js';
import { ADMIN_ROLE, adminAcls, DEFAULT_ACL_ACCESS, deviceAcls, deviceRole, type Acl } from './acl.js';

// The plugin's starting state, written by `broker-config --dynsec` in the
// layout Mosquitto 2.0's plugin loads (plugins/dynamic-security: clients with
// base64 `password`, `salt`, `iterations` and their roles; roles with their
// ACLs; defaultACLAccess), as `mosquitto_ctrl dynsec init` writes it, with the
// controller as the admin. The registered devices go in too, with the hashes
// the registry already holds (credentials.ts: the same PBKDF2-SHA512 the
// plugin uses), so a fleet moves to the plugin without new tokens. From then
// on the plugin keeps this file itself and the controller changes it live
// through $CONTROL/dynamic-security/v1.

/** The file's name beside mosquitto.conf. */
export const DYNSEC_FILE = 'dynamic-security.json';

interface FileClient {
  username: string;
  textname: string;
  password: string;
  salt: string;
  iterations: number;
  roles: Array<{ rolename: string }>;
}

export interface DynsecFile {
  defaultACLAccess: typeof DEFAULT_ACL_ACCESS;
  clients: FileClient[];
  roles: Array<{ rolename: string; textname: string; acls: Acl[] }>;
  groups: [];
}

function client(username: string, textname: string, stored: string, rolename: string): FileClient {
  const fields = pbkdf2Fields(stored);
  if (!fields) throw new Error(`the stored hash of '${username}' is not a PBKDF2-SHA512 hash the plugin can check`);
  return { username, textname, ...fields, roles: [{ rolename }] };
}

/** The file for the controller's secret and the registered devices' stored hashes. */
export function dynsecFile(controllerSecret: string, devices: Array<{ id: string; tokenHash: string }>): DynsecFile {
  return {
    defaultACLAccess: { ...DEFAULT_ACL_ACCESS },
    clients: [
      client(CONTROLLER_USER, 'edgefit controller (dynamic security admin)', hashToken(controllerSecret), ADMIN_ROLE),
      ...devices.map((d) => client(d.id, 'edgefit device', d.tokenHash, deviceRole(d.id))),
    ],
    roles: [
      { rolename: ADMIN_ROLE, textname: 'edgefit controller: administers this plugin and uses the whole edgefit tree', acls: adminAcls() },
      ...devices.map((d) => ({ rolename: deviceRole(d.id), textname: `edgefit device ${d.id}: its own topics only`, acls: deviceAcls(d.id) })),
    ],
    groups: [],
  };
}
