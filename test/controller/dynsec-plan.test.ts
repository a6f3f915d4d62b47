// The dynamic-security path's decisions, without a broker: the ACLs a
// device's role gets (the same rights as the embedded broker's ACL and the
// ACL file), the starting file's hashes (checked by recomputing PBKDF2 as the
// plugin does), and the reconcile plan. The broker itself is in dynsec.test.ts.
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../controller/broker.js';
import { hashToken, pbkdf2Fields } from '../../controller/credentials.js';
import { adminAcls, deviceAcls, deviceRole, type Acl } from '../../controller/dynsec/acl.js';
import { provisionDevice, reconcilePlan, type BrokerView } from '../../controller/dynsec/commands.js';
import { dynsecFile } from '../../controller/dynsec/config-file.js';
import { CONTROLLER_USER } from '../../controller/registry.js';
import { CHANNELS, type Channel } from '../../protocol/channels.js';
import { deviceTopic } from '../../protocol/topics.js';

const channels = Object.keys(CHANNELS) as Channel[];

function view(clients: Record<string, string[]>, roles: Record<string, Acl[]>): BrokerView {
  return { clients: new Map(Object.entries(clients)), roles: new Map(Object.entries(roles)) };
}

describe('dynamic-security ACLs', () => {
  it("give a device's role exactly what the embedded broker lets it do, on its own topics and no other device's", () => {
    const acls = deviceAcls('cam-1');
    for (const channel of channels) {
      for (const [id, own] of [['cam-1', true], ['cam-2', false]] as const) {
        const topic = deviceTopic(id, channel);
        const publishes = acls.some((a) => a.acltype === 'publishClientSend' && a.topic === topic && a.allow);
        const subscribes = acls.some((a) => a.acltype === 'subscribeLiteral' && a.topic === topic && a.allow);
        expect(publishes, `publish ${topic}`).toBe(own && mayPublish({ role: 'device', id: 'cam-1' }, topic));
        expect(subscribes, `subscribe ${topic}`).toBe(own && maySubscribe({ role: 'device', id: 'cam-1' }, topic));
      }
    }
    // every channel is covered one way or the other: a channel added to the table reaches the plugin too
    expect(acls).toHaveLength(channels.length);
  });

  it("let the controller administer the plugin and use the device tree, and nothing else", () => {
    const topics = new Set(adminAcls().map((a) => a.topic));
    expect(topics).toEqual(new Set(['$CONTROL/dynamic-security/#', 'edgefit/v1/devices/#']));
  });
});

describe("the plugin's starting file", () => {
  it('holds the controller and each device with hashes the plugin checks as PBKDF2-SHA512 of the token over its salt', () => {
    const token = 'device-token';
    const file = dynsecFile('controller-secret', [{ id: 'pi-1', tokenHash: hashToken(token) }]);
    const check = (username: string, password: string) => {
      const c = file.clients.find((x) => x.username === username)!;
      const derived = pbkdf2Sync(password, Buffer.from(c.salt, 'base64'), c.iterations, 64, 'sha512').toString('base64');
      return derived === c.password;
    };
    expect(check(CONTROLLER_USER, 'controller-secret')).toBe(true);
    expect(check('pi-1', token)).toBe(true);
    expect(check('pi-1', 'another')).toBe(false);
    // Mosquitto 2.0's plugin takes a 12-byte salt only (SALT_LEN): anything else fails to load
    expect(Buffer.from(file.clients[1].salt, 'base64')).toHaveLength(12);
    expect(file.clients.map((c) => c.roles[0].rolename)).toEqual([CONTROLLER_USER, deviceRole('pi-1')]);
    expect(file.roles.find((r) => r.rolename === deviceRole('pi-1'))?.acls).toEqual(deviceAcls('pi-1'));
    expect(file.defaultACLAccess).toEqual({ publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true });
  });

  it('refuses a stored hash the plugin could not check', () => {
    expect(pbkdf2Fields('$6$abc$def')).toBeUndefined();
    expect(pbkdf2Fields(`$7$101$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(64).toString('base64')}`)).toBeUndefined();
    expect(() => dynsecFile('s', [{ id: 'x', tokenHash: 'plain' }])).toThrow(/not a PBKDF2-SHA512 hash/);
  });
});

describe('provisioning and the reconcile plan', () => {
  it('provisions a device as role, a clean slate for its name, then its client in that role', () => {
    expect(provisionDevice('pi-1', 't').map((c) => c.command)).toEqual(['createRole', 'deleteClient', 'createClient']);
    expect(provisionDevice('pi-1', 't')[2]).toMatchObject({ username: 'pi-1', password: 't', roles: [{ rolename: deviceRole('pi-1') }] });
  });

  it('changes nothing on a broker already in step', () => {
    const broker = view({ [CONTROLLER_USER]: [CONTROLLER_USER], 'pi-1': [deviceRole('pi-1')] }, { [CONTROLLER_USER]: adminAcls(), [deviceRole('pi-1')]: deviceAcls('pi-1') });
    expect(reconcilePlan(['pi-1'], [], broker)).toEqual({ commands: [], missing: [] });
  });

  it('deletes removed devices and device roles nobody active has, and leaves the operator\'s own clients and the controller alone', () => {
    const broker = view(
      { [CONTROLLER_USER]: [CONTROLLER_USER], 'pi-1': [deviceRole('pi-1')], gone: [deviceRole('gone')], ghost: [], 'grafana-bridge': ['reader'] },
      { [CONTROLLER_USER]: adminAcls(), [deviceRole('pi-1')]: deviceAcls('pi-1'), [deviceRole('gone')]: deviceAcls('gone'), reader: [] },
    );
    const plan = reconcilePlan(['pi-1'], ['ghost'], broker);
    expect(plan.commands).toEqual([
      { command: 'deleteClient', username: 'ghost' },
      { command: 'deleteRole', rolename: deviceRole('gone') },
      { command: 'deleteClient', username: 'gone' },
    ]);
    expect(plan.missing).toEqual([]);
  });

  it("re-creates a missing role, puts a client back in its role, fixes drifted ACLs, and names devices whose client is gone", () => {
    const drifted: Acl[] = [...deviceAcls('pi-2').slice(1), { acltype: 'publishClientSend', topic: deviceTopic('pi-3', 'hello'), allow: true }];
    drifted[0] = { ...drifted[0], allow: false };
    const broker = view({ 'pi-1': [], 'pi-2': [deviceRole('pi-2')] }, { [deviceRole('pi-2')]: drifted });
    const plan = reconcilePlan(['pi-1', 'pi-2', 'pi-4'], [], broker);
    const want = deviceAcls('pi-2');
    expect(plan.commands).toEqual([
      { command: 'createRole', rolename: deviceRole('pi-1'), textname: 'edgefit device pi-1: its own topics only', acls: deviceAcls('pi-1') },
      { command: 'addClientRole', username: 'pi-1', rolename: deviceRole('pi-1') },
      // the ACL with the wrong allow goes and comes back right; the foreign one goes; the missing first one comes
      { command: 'removeRoleACL', rolename: deviceRole('pi-2'), acltype: want[1].acltype, topic: want[1].topic },
      { command: 'removeRoleACL', rolename: deviceRole('pi-2'), acltype: 'publishClientSend', topic: deviceTopic('pi-3', 'hello') },
      { command: 'addRoleACL', rolename: deviceRole('pi-2'), ...want[0] },
      { command: 'addRoleACL', rolename: deviceRole('pi-2'), ...want[1] },
      { command: 'createRole', rolename: deviceRole('pi-4'), textname: 'edgefit device pi-4: its own topics only', acls: deviceAcls('pi-4') },
    ]);
    // a token cannot be put back from a hash: these need rotate-token
    expect(plan.missing).toEqual(['pi-4']);
  });
});
