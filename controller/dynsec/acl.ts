import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES } from '../../protocol/channels.js';
import { deviceTopic, TOPIC_ROOT } from '../../protocol/topics.js';
import { CONTROLLER_USER } from '../registry.js';

// The rights of Mosquitto's dynamic-security plugin, read from the channel
// table (protocol/channels.ts) as the ACL file of the file-based path is
// (mosquitto-config.ts): a device publishes only its own device-to-controller
// channels and subscribes only to its own controller-to-device ones; the
// controller uses the whole edgefit tree and administers the plugin. The
// plugin of Mosquitto 2.0 has no %u in its ACLs, so each device gets a role
// of its own, named after it.

/** The plugin's control topic and the topic it answers on. */
export const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';
export const RESPONSE_TOPIC = `${CONTROL_TOPIC}/response`;

export type AclType = 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral' | 'subscribePattern' | 'unsubscribeLiteral' | 'unsubscribePattern';

export interface Acl {
  acltype: AclType;
  topic: string;
  allow: boolean;
  priority?: number;
}

/** The controller's role: the plugin's admin and the whole device tree. */
export const ADMIN_ROLE = CONTROLLER_USER;

/** Device roles carry this prefix: a role (and its client) with it and no active device behind it is edgefit's to delete. */
export const DEVICE_ROLE_PREFIX = 'edgefit-device-';

export function deviceRole(id: string): string {
  return `${DEVICE_ROLE_PREFIX}${id}`;
}

/** The device id of a device role, or undefined for any other role. */
export function deviceOfRole(rolename: string): string | undefined {
  return rolename.startsWith(DEVICE_ROLE_PREFIX) ? rolename.slice(DEVICE_ROLE_PREFIX.length) : undefined;
}

export function deviceAcls(id: string): Acl[] {
  return [
    ...DEVICE_PUBLISHES.map((c): Acl => ({ acltype: 'publishClientSend', topic: deviceTopic(id, c), allow: true })),
    ...DEVICE_SUBSCRIBES.map((c): Acl => ({ acltype: 'subscribeLiteral', topic: deviceTopic(id, c), allow: true })),
  ];
}

export function adminAcls(): Acl[] {
  // as mosquitto_ctrl dynsec init grants its admin
  const control = '$CONTROL/dynamic-security/#';
  const tree = `${TOPIC_ROOT}/#`;
  return [
    { acltype: 'publishClientSend', topic: control, allow: true },
    { acltype: 'publishClientReceive', topic: control, allow: true },
    { acltype: 'subscribePattern', topic: control, allow: true },
    { acltype: 'publishClientSend', topic: tree, allow: true },
    { acltype: 'publishClientReceive', topic: tree, allow: true },
    { acltype: 'subscribePattern', topic: tree, allow: true },
  ];
}

/**
 * What nobody's role grants (as `mosquitto_ctrl dynsec init` sets it): no
 * publishing and no subscribing; receiving what one may subscribe to, and
 * unsubscribing, are allowed.
 */
export const DEFAULT_ACL_ACCESS = { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true } as const;
