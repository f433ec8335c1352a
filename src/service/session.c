#include "service/session.h"
#include "util/err.h"
#include "util/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct svc {
	struct store *st;
	const struct svc_engine_ops *ops; /* NULL until an engine is attached */
	void *eng;
	atomic_size_t failed; /* sessions in the failed state (no engine) */
};

/* Walks every session once, counting those in the failed state. */
static int count_failed(struct store *st, size_t *failed)
{
	struct store_cursor cur, next;
	int have_cur = 0, has_next = 1, rc = Y_OK;

	*failed = 0;
	while (has_next) {
		struct store_session *list = NULL;
		size_t n = 0;

		rc = store_session_list(st, have_cur ? &cur : NULL, 500, &list, &n, &next, &has_next);
		if (rc)
			break;
		for (size_t i = 0; i < n; i++)
			if (list[i].status && !strcmp(list[i].status, "failed"))
				(*failed)++;
		store_sessions_free(list, n);
		cur = next;
		have_cur = 1;
	}
	return rc;
}

int svc_new(struct store *st, struct svc **out)
{
	struct svc *s = calloc(1, sizeof(*s));
	size_t failed = 0;
	int rc;

	*out = NULL;
	if (!s)
		return Y_ENOMEM;
	s->st = st;
	rc = count_failed(st, &failed);
	atomic_store(&s->failed, failed);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return Y_OK;
}

void svc_free(struct svc *s)
{
	free(s);
}

void svc_set_engine(struct svc *s, const struct svc_engine_ops *ops, void *eng)
{
	s->ops = ops;
	s->eng = eng;
}

int svc_send_text(struct svc *s, const char *session_id, const char *phone, const char *text,
		  struct store_message *out)
{
	struct store_session sess;
	int rc;

	memset(&sess, 0, sizeof(sess));
	rc = store_session_get(s->st, session_id, &sess);
	if (rc)
		return rc;
	store_session_release(&sess);
	if (!s->ops || !s->ops->send_text)
		return Y_ESTATE; /* no WhatsApp engine: nothing is connected */
	return s->ops->send_text(s->eng, session_id, phone, text, out);
}

int svc_delete_session(struct svc *s, const char *session_id)
{
	struct store_session sess;
	int was_failed, rc;

	memset(&sess, 0, sizeof(sess));
	rc = store_session_get(s->st, session_id, &sess);
	if (rc)
		return rc;
	was_failed = sess.status && !strcmp(sess.status, "failed");
	store_session_release(&sess);
	rc = store_session_delete(s->st, session_id);
	if (rc == Y_OK && was_failed)
		atomic_fetch_sub(&s->failed, 1);
	if (rc == Y_OK && s->ops && s->ops->forget)
		s->ops->forget(s->eng, session_id);
	return rc;
}

int svc_whatsapp_ok(struct svc *s)
{
	if (s->ops && s->ops->healthy)
		return s->ops->healthy(s->eng);
	return atomic_load(&s->failed) == 0;
}
