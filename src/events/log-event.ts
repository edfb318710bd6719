/**
 * authentik's LogEvent (a structlog line as the API shows it: a policy's or a blueprint's log, a sync's messages), the
 * one shape every log the API returns takes.
 */
export interface LogEvent {
  event: string;
  log_level: 'critical' | 'exception' | 'error' | 'warn' | 'warning' | 'info' | 'debug' | 'notset';
  logger: string;
  timestamp: string;
  attributes: Record<string, unknown>;
}

/** a log line now */
export const logEvent = (
  logger: string,
  log_level: LogEvent['log_level'],
  event: string,
  attributes: Record<string, unknown> = {},
): LogEvent => ({
  timestamp: new Date().toISOString(),
  log_level,
  logger,
  event,
  attributes,
});
