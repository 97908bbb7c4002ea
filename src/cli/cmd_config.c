/*
 * `cmhook config [--keys]`: show the effective settings (where the .env and
 * the environment were merged; secrets redacted), or with --keys the table of
 * every setting as Markdown — the README's table is checked against it.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

static int on_opt(int opt, const char *arg, void *ud)
{
	bool *keys = ud;

	(void)arg;
	if (opt == 'k') {
		*keys = true;
		return 0;
	}
	return 2;
}

static void print_setting(const char *key, const char *value, void *ud)
{
	(void)ud;
	printf("%s=%s\n", key, value);
}

static int print_keys(void)
{
	size_t n;
	const struct cmh_config_key_doc *docs = cmh_config_docs(&n);

	printf("| Key | Default | Meaning |\n|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const char *def = docs[i].default_text;

		if (!def[0])
			printf("| `%s` | — | %s |\n", docs[i].key, docs[i].meaning);
		else
			printf("| `%s` | %s%s%s | %s |\n", docs[i].key, docs[i].default_is_value ? "`" : "",
			       def, docs[i].default_is_value ? "`" : "", docs[i].meaning);
	}
	return 0;
}

static int run_config(struct cmh_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keys", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool keys = false, done;
	int rc;

	rc = cmh_cli_getopt(cli, &cmh_cmd_config, argc, argv, ":hk", longopts, on_opt, &keys,
			    &done);
	if (done)
		return rc;
	if (cmh_cli_no_more_args(cli, argc, argv))
		return 2;
	if (keys)
		return print_keys();
	rc = cmh_cli_load_config(cli, 0);
	if (rc)
		return rc;
	cmh_config_dump(&cli->cfg, print_setting, NULL);
	return fflush(stdout) ? 1 : 0;
}

const struct cmh_cli_command cmh_cmd_config = {
	.name = "config",
	.run = run_config,
	.args = "[--keys]",
	.summary = "show the effective settings (secrets redacted), or every key with --keys",
	.help =
		"Prints KEY=value for every setting after merging ./.env (or --env FILE) with the\n"
		"environment. CLIENT_SECRET and the channel URLs are shown as <redacted> when set.\n"
		"\n"
		"Options:\n"
		"  --keys   print the table of all settings, defaults and meanings (Markdown)\n",
};
