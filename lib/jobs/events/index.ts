/**
 * Every event the job runtime carries, defined once and imported by both
 * sides: the services and functions that send them (through a builder beside
 * each definition, `<name>Event(...)`) and the functions they trigger. A new
 * event is a `defineEvent` and its builder in the file of its subsystem, listed here.
 */
export { instancesObserveRequested, observeRequestedEvent } from "./observation";
export { backupSyncRequested, backupSyncRequestedEvent } from "./backups";
export { operationRequested, operationRequestedEvent } from "./operations";
export { rolloutAdvanceEvent, rolloutAdvanceRequested } from "./rollouts";
export { deliveryRequestedEvent, messagesPendingEvent, webhookDeliveryRequested, webhookMessagesPending } from "./webhooks";
