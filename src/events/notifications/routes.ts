/** Notifications: transports, rules, the inbox, and the events' hook that acts on the rules. */
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import { notificationDispatcher } from './dispatch.js';
import { mountInbox } from './inbox.js';
import { mountRules } from './rules.js';
import { mountTransports } from './transports.js';

export function mountNotifications(router: ApiRouter, svc: Services, onError: (err: unknown) => void) {
  mountTransports(router, svc);
  mountRules(router, svc);
  mountInbox(router, svc);
  svc.events.onEmit = notificationDispatcher(() => svc, onError);
}
