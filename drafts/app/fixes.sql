-- ng_check_field: an integer field outside int4 names the field
CREATE OR REPLACE FUNCTION @extschema@.ng_check_field(obj jsonb, field text, kind text, required boolean, what text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v jsonb := obj -> field;
    t text := jsonb_typeof(obj -> field);
BEGIN
    IF v IS NULL OR t = 'null' THEN
        IF required THEN
            RAISE EXCEPTION '% needs the field "%"', what, field
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN NULL;
    END IF;
    IF kind = 'integer' THEN
        IF t <> 'number' OR v::numeric <> trunc(v::numeric) THEN
            RAISE EXCEPTION 'field "%" of % must be an integer', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
        IF v::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN
            RAISE EXCEPTION 'field "%" of % is out of range', field, what
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = format('Got %s; the largest integer is 2147483647.', v);
        END IF;
    ELSIF kind = 'text' THEN
        IF t <> 'string' OR v #>> '{}' = '' THEN
            RAISE EXCEPTION 'field "%" of % must be a non-empty string', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'text_array' THEN
        IF t <> 'array' OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION 'field "%" of % must be an array of strings', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'date' THEN
        IF t <> 'string' OR (v #>> '{}') !~ '^\d{4}-\d{2}-\d{2}$' THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
        BEGIN
            PERFORM (v #>> '{}')::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END;
    ELSIF t <> kind THEN
        RAISE EXCEPTION 'field "%" of % must be a JSON %', field, what, kind
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
    END IF;
    RETURN v;
END
$$;
