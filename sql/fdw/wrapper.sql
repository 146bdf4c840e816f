-- The foreign data wrapper: handler, option validator, and the event
-- trigger that checks what the validator cannot see.

CREATE FUNCTION nutragenie_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION nutragenie_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FOREIGN DATA WRAPPER nutragenie_fdw
  HANDLER nutragenie_fdw_handler
  VALIDATOR nutragenie_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER nutragenie_fdw IS 'MongoDB foreign data wrapper';
COMMENT ON FUNCTION nutragenie_fdw_handler() IS 'foreign data wrapper handler of nutragenie_fdw';
COMMENT ON FUNCTION nutragenie_fdw_validator(text[], oid) IS 'option validator of nutragenie_fdw';

-- What the option validator cannot see (a column's type) is checked when a
-- foreign table of this wrapper is created or altered: a "$$ROOT" column
-- must be json or jsonb.  Planning checks the same again.
CREATE FUNCTION nutragenie_fdw_check_ddl() RETURNS event_trigger
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'nutragenie_fdw_check_ddl';
COMMENT ON FUNCTION nutragenie_fdw_check_ddl() IS
    'event trigger: checks the column options of nutragenie_fdw foreign tables';
REVOKE ALL ON FUNCTION nutragenie_fdw_check_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER nutragenie_fdw_check_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION nutragenie_fdw_check_ddl();
COMMENT ON EVENT TRIGGER nutragenie_fdw_check_ddl IS
    'refuses nutragenie_fdw foreign tables whose column options cannot work';
