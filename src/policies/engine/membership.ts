/**
 * Group membership for group bindings: the groups domain's, inherited as authentik's `Group.is_member` (the user is
 * in the group or in one of its descendants).
 */
export { isMember } from '../../groups/membership.js';
