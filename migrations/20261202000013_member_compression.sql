-- A snapshot's member arrays (4 MiB for the 500,000 role assignments of
-- the benchmark estate) are compressed with lz4 where the server has it:
-- pglz took a tenth of PostgreSQL's time in a re-import. A server built
-- without lz4 keeps pglz.
do $$
begin
    alter table snapshot_members alter column ids set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
    raise notice 'lz4 is not available; snapshot_members keeps pglz';
end
$$;
