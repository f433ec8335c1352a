/*
 * The session service: what the API asks of WhatsApp sessions, kept apart
 * from HTTP so the real client can plug in later. Until a WhatsApp engine is
 * attached (svc_set_engine), nothing is ever connected: sends answer
 * Y_ESTATE, which the API turns into 503 SESSION_NOT_CONNECTED. Nothing here
 * pretends to deliver.
 *
 * The service borrows the store; both must outlive it. Thread-safe as long as
 * the engine's callbacks are.
 */
#ifndef YESAPP_SERVICE_SESSION_H
#define YESAPP_SERVICE_SESSION_H

#include "store/store.h"

struct svc;

/* What a WhatsApp engine provides. Every callback gets the `eng` pointer
 * passed to svc_set_engine. */
struct svc_engine_ops {
	/* Sends a text to an E.164 number (digits only). Y_ESTATE when that
	 * session is not connected. On success fills *out (owned by the
	 * caller, released with store_message_release). */
	int (*send_text)(void *eng, const char *session_id, const char *phone, const char *text,
			 struct store_message *out);
	/* 1 while the engine runs without a failed session, else 0. */
	int (*healthy)(void *eng);
	/* A session was deleted: drop its connection. */
	void (*forget)(void *eng, const char *session_id);
};

/* Creates the service and counts sessions left in the "failed" state. */
int svc_new(struct store *st, struct svc **out);
void svc_free(struct svc *s); /* NULL is a no-op */
/* Attaches an engine (ops and eng borrowed, must outlive the service). */
void svc_set_engine(struct svc *s, const struct svc_engine_ops *ops, void *eng);

/* Y_ENOTFOUND for an unknown session, Y_ESTATE when it is not connected. */
int svc_send_text(struct svc *s, const char *session_id, const char *phone, const char *text,
		  struct store_message *out);
/* Deletes a session (and its messages); Y_ENOTFOUND if unknown. */
int svc_delete_session(struct svc *s, const char *session_id);
/*
 * The WhatsApp readiness check. With an engine: what the engine reports.
 * Without one: 1 unless a stored session is in the "failed" state (counted
 * at start-up), since no engine runs that could be failing.
 */
int svc_whatsapp_ok(struct svc *s);

#endif
