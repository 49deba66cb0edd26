/*
 * Agency codes and the reading of Chile's institutions.csv: ministries, services,
 * skipped programs, zero padding, bad numbers, trimming, and the real file's counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agency.h"
#include "shared_data.h"

static bool
parse(const char *text, struct agency_list *list, char *err, size_t errlen)
{
	return agency_parse_institutions(text, strlen(text), list, err, errlen);
}

/* Asserts that text fails with exactly `want`. */
static void
parse_fails(const char *text, const char *want)
{
	struct agency_list	list;
	char			err[256] = "";

	assert_false(parse(text, &list, err, sizeof(err)));
	assert_string_equal(err, want);
	assert_null(list.entries);
	assert_int_equal(list.count, 0);
}

static void
test_code_valid(void **state)
{
	assert_true(agency_code_valid("05"));
	assert_true(agency_code_valid("05-62"));
	assert_true(agency_code_valid("a"));
	assert_true(agency_code_valid("CL.MP_1-x"));
	assert_true(agency_code_valid("0123456789012345678901234567890"));	/* 31 */
	assert_false(agency_code_valid("01234567890123456789012345678901"));	/* 32 */
	assert_false(agency_code_valid(""));
	assert_false(agency_code_valid(NULL));
	assert_false(agency_code_valid("-05"));
	assert_false(agency_code_valid(".x"));
	assert_false(agency_code_valid("05 62"));
	assert_false(agency_code_valid("05/62"));
	assert_false(agency_code_valid("Educación"));
	assert_false(agency_code_valid("x\n"));
}

static void
test_kind_names_match_schema(void **state)
{
	assert_string_equal(agency_kind_name(AGENCY_MINISTRY), "ministry");
	assert_string_equal(agency_kind_name(AGENCY_SERVICE), "service");
	assert_string_equal(agency_kind_name(AGENCY_UNMAPPED), "unmapped");
}

static void
test_ministry_service_and_program_rows(void **state)
{
	struct agency_list	list;
	char			err[256];

	assert_true(parse("5;0;0; Ministerio del Interior\n"
	    "5;62;0;Servicio Nacional de Migraciones\n"
	    "5;62;1;Servicio Nacional de Migraciones\n"
	    "5;62;2;Programa de algo\n", &list, err, sizeof(err)));
	assert_int_equal(list.count, 2);
	assert_int_equal(list.ministries, 1);
	assert_int_equal(list.services, 1);
	assert_int_equal(list.programs, 2);

	assert_int_equal(list.entries[0].kind, AGENCY_MINISTRY);
	assert_string_equal(list.entries[0].code, "05");
	assert_string_equal(list.entries[0].parent, "");
	assert_string_equal(list.entries[0].name, "Ministerio del Interior");
	assert_int_equal(list.entries[0].line, 1);

	assert_int_equal(list.entries[1].kind, AGENCY_SERVICE);
	assert_string_equal(list.entries[1].code, "05-62");
	assert_string_equal(list.entries[1].parent, "05");
	assert_string_equal(list.entries[1].name, "Servicio Nacional de Migraciones");
	assert_int_equal(list.entries[1].line, 2);
	agency_list_free(&list);
}

static void
test_codes_zero_padded_and_leading_zeros_accepted(void **state)
{
	struct agency_list	list;
	char			err[256];

	assert_true(parse("01;00;00;A\n1;1;0;B\n50;0;0;C\n50;01;0;D\n99;99;0;E\n99;0;0;F\n",
	    &list, err, sizeof(err)));
	assert_int_equal(list.count, 6);
	assert_string_equal(list.entries[0].code, "01");
	assert_string_equal(list.entries[1].code, "50");
	assert_string_equal(list.entries[2].code, "99");
	assert_string_equal(list.entries[3].code, "01-01");
	assert_string_equal(list.entries[4].code, "50-01");
	assert_string_equal(list.entries[5].code, "99-99");
	assert_string_equal(list.entries[5].parent, "99");
	agency_list_free(&list);
}

static void
test_ministries_come_first_in_file_order(void **state)
{
	struct agency_list	list;
	char			err[256];

	/* A service may come before its ministry in the file. */
	assert_true(parse("2;1;0;Senado\n1;0;0;Presidencia\n2;0;0;Congreso\n"
	    "1;1;0;Presidencia\n", &list, err, sizeof(err)));
	assert_int_equal(list.count, 4);
	assert_string_equal(list.entries[0].code, "01");
	assert_string_equal(list.entries[1].code, "02");
	assert_string_equal(list.entries[2].code, "02-01");
	assert_string_equal(list.entries[3].code, "01-01");
	agency_list_free(&list);
}

static void
test_names_trimmed(void **state)
{
	struct agency_list	list;
	char			err[256];

	assert_true(parse("1;0;0;\t  Presidencia de la República \xc2\xa0\r\n"
	    "1;1;0;\xc2\xa0 Dos  espacios  dentro \n", &list, err, sizeof(err)));
	assert_string_equal(list.entries[0].name, "Presidencia de la República");
	assert_string_equal(list.entries[1].name, "Dos  espacios  dentro");
	agency_list_free(&list);
}

static void
test_bom_crlf_and_blank_lines(void **state)
{
	struct agency_list	list;
	char			err[256];

	assert_true(parse("\xef\xbb\xbf" "1;0;0;A\r\n\r\n1;1;0;B", &list, err, sizeof(err)));
	assert_int_equal(list.count, 2);
	assert_int_equal(list.entries[1].line, 3);
	agency_list_free(&list);
}

static void
test_empty_file_is_an_empty_list(void **state)
{
	struct agency_list	list;
	char			err[256];

	assert_true(parse("", &list, err, sizeof(err)));
	assert_int_equal(list.count, 0);
	assert_int_equal(list.programs, 0);
	agency_list_free(&list);
}

static void
test_bad_numbers_rejected_with_line(void **state)
{
	parse_fails("1;0;0;A\nx;0;0;B\n",
	    "line 2: Partida 'x' is not a number from 1 to 99");
	parse_fails("0;0;0;A\n", "line 1: Partida '0' is not a number from 1 to 99");
	parse_fails("100;0;0;A\n", "line 1: Partida '100' is not a number from 1 to 99");
	parse_fails("0100;0;0;A\n", "line 1: Partida '0100' is not a number from 1 to 99");
	parse_fails("-1;0;0;A\n", "line 1: Partida '-1' is not a number from 1 to 99");
	parse_fails(" 1;0;0;A\n", "line 1: Partida ' 1' is not a number from 1 to 99");
	parse_fails("1;;0;A\n", "line 1: Capítulo '' is not a number from 0 to 99");
	parse_fails("1;1.5;0;A\n", "line 1: Capítulo '1.5' is not a number from 0 to 99");
	parse_fails("1;0;+1;A\n", "line 1: Programa '+1' is not a number from 0 to 99");
	parse_fails("1;0;100;A\n", "line 1: Programa '100' is not a number from 0 to 99");
}

static void
test_wrong_field_count_rejected(void **state)
{
	parse_fails("1;0;0\n",
	    "line 1: expected 4 fields (Partida;Capítulo;Programa;Name), found 3");
	parse_fails("1;0;0;A\n1;1;0;B;\n",
	    "line 2: expected 4 fields (Partida;Capítulo;Programa;Name), found 5");
}

static void
test_bad_names_rejected(void **state)
{
	parse_fails("1;0;0;   \n", "line 1: the name is empty");
	parse_fails("1;0;0;A\n1;1;0;caf\xe9\n", "line 2: the name is not valid UTF-8");
	parse_fails("1;0;0;\xc0\xaf\n", "line 1: the name is not valid UTF-8");
	parse_fails("1;0;0;\xed\xa0\x80\n", "line 1: the name is not valid UTF-8");
}

static void
test_duplicates_and_orphans_rejected(void **state)
{
	parse_fails("1;0;0;A\n1;0;0;B\n", "line 2: ministry 01 already on line 1");
	parse_fails("1;0;0;A\n1;2;0;B\n01;02;0;C\n", "line 3: agency 01-02 already on line 2");
	parse_fails("1;0;0;A\n3;2;0;B\n", "line 2: agency 03-02: no ministry row for Partida 03");
}

static void
test_csv_errors_carry_the_line(void **state)
{
	parse_fails("1;0;0;A\n1;1;0;\"B\n", "line 2: quoted field not closed");
}

static void
test_real_institutions_file(void **state)
{
	char			 err[256];
	struct agency_list	 list;
	char			*buf;
	size_t			 len;

	if ((buf = shared_data_read("chile/institutions.csv", &len)) == NULL)
		skip();

	/* awk -F';' '$2==0&&$3==0{m++} $2>0&&$3==0{a++} $3>0{p++}': 29 208 325 */
	assert_true(agency_parse_institutions(buf, len, &list, err, sizeof(err)));
	assert_int_equal(list.ministries, 29);
	assert_int_equal(list.services, 208);
	assert_int_equal(list.programs, 325);
	assert_int_equal(list.count, 29 + 208);

	assert_string_equal(list.entries[0].code, "01");
	assert_string_equal(list.entries[0].name, "Presidencia de la República");
	assert_string_equal(list.entries[28].code, "50");
	assert_string_equal(list.entries[28].name, "Tesoro Público");
	assert_int_equal(list.entries[28].line, 551);
	for (size_t i = 0; i < list.count; i++) {
		assert_true(agency_code_valid(list.entries[i].code));
		assert_int_equal(list.entries[i].kind,
		    i < 29 ? AGENCY_MINISTRY : AGENCY_SERVICE);
		assert_true(list.entries[i].name[0] != ' ');
	}
	agency_list_free(&list);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_valid),
		cmocka_unit_test(test_kind_names_match_schema),
		cmocka_unit_test(test_ministry_service_and_program_rows),
		cmocka_unit_test(test_codes_zero_padded_and_leading_zeros_accepted),
		cmocka_unit_test(test_ministries_come_first_in_file_order),
		cmocka_unit_test(test_names_trimmed),
		cmocka_unit_test(test_bom_crlf_and_blank_lines),
		cmocka_unit_test(test_empty_file_is_an_empty_list),
		cmocka_unit_test(test_bad_numbers_rejected_with_line),
		cmocka_unit_test(test_wrong_field_count_rejected),
		cmocka_unit_test(test_bad_names_rejected),
		cmocka_unit_test(test_duplicates_and_orphans_rejected),
		cmocka_unit_test(test_csv_errors_carry_the_line),
		cmocka_unit_test(test_real_institutions_file),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
