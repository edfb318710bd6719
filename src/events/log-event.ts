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

/** its OpenAPI component, registered by whoever answers with logs first */
export const LOG_EVENT_SCHEMA = {
  type: 'object',
  description: 'Single log message with all context logged.',
  properties: {
    timestamp: { type: 'string', format: 'date-time' },
    log_level: { type: 'string', enum: ['critical', 'exception', 'error', 'warn', 'warning', 'info', 'debug', 'notset'] },
    logger: { type: 'string' },
    event: { type: 'string' },
    attributes: { type: 'object', additionalProperties: {} },
  },
  required: ['attributes', 'event', 'log_level', 'logger', 'timestamp'],
};
