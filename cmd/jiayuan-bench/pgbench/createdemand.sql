-- CreateDemand's rows (rawDemandTx in rawtx.go), pipelined as the service sends them: the
-- demand (with its follow-up code's hash), its first timeline entry, the code's SMS on the
-- notification outbox, the request id, the event and the audit record. On the demand database.
\set r random(1, 1000000000000000)
\startpipeline
BEGIN;
INSERT INTO demands (name, kind, category, channel, status, urgency, community_code, place_code,
  meeting, project, raised_by, supporter_count, data, version, create_us, update_us, follow_up_code_hash)
  VALUES ('demands/pgb' || :client_id || '-' || :r, 1, 1, 9, 1, 1, '450105003003', '450105003003', '', '', '', 0, '\x0a2264656d616e64732f7261777478303030303030303030303030303030303537343831100118012218e88081e4babae99c80e8a681e6a5bce6a2afe689b6e6898b2a4ee5b185e6b091e58f8de698a0efbc9ae6a5bce98193e59e83e59cbee6a1b6e6bba1e4ba86e6b2a1e4babae6b885e79086efbc8ce5b88ce69c9be7a4bee58cbae58d8fe8b083e8a7a3e586b3e38082320c343530313035303033303033420c3237e6a08b33e58d95e5858352150a06e69d8ee59b9b120b313339303030353734383168017009800101', 1, :r, :r,
    sha256(convert_to('demands/pgb' || :client_id || '-' || :r, 'UTF8')));
INSERT INTO demand_timeline (demand, id, kind, create_us, data)
  VALUES ('demands/pgb' || :client_id || '-' || :r, '1', 1, :r, '\x0a3464656d616e64732f72617774783030303030303030303030303030303035373438312f74696d656c696e65456e74726965732f312a3fe682a8e79a84e8af89e6b182e5b7b2e694b6e588b0efbc8ce7a4bee58cbae5b086e59ca8e4b889e4b8aae5b7a5e4bd9ce697a5e58685e7ad94e5a48de38082');
INSERT INTO demand_notifications (name, demand, id, subject, urgent, state, due_us, create_us, data, personal)
  VALUES ('demands/pgb' || :client_id || '-' || :r || '/notifications/1', 'demands/pgb' || :client_id || '-' || :r, '1', '', FALSE, 1, :r, :r,
    '\x0a3464656d616e64732f72617774783030303030303030303030303030303035373438312f74696d656c696e65456e74726965732f312a3fe682a8e79a84e8af89e6b182e5b7b2e694b6e588b0efbc8ce7a4bee58cbae5b086e59ca8e4b889e4b8aae5b7a5e4bd9ce697a5e58685e7ad94e5a48de38082', sha256(convert_to('demands/pgb' || :client_id || '-' || :r, 'UTF8')));
INSERT INTO idempotency_keys (method, request_id, request_hash, created_us, response)
  VALUES ('/jiayuan.demand.v1.DemandService/CreateDemand', 'pgb' || :client_id || '-' || :r,
    '\x0102030405060708091011121314151617181920212223242526272829303132', :r, '\x0a2264656d616e64732f7261777478303030303030303030303030303030303537343831100118012218e88081e4babae99c80e8a681e6a5bce6a2afe689b6e6898b2a4ee5b185e6b091e58f8de698a0efbc9ae6a5bce98193e59e83e59cbee6a1b6e6bba1e4ba86e6b2a1e4babae6b885e79086efbc8ce5b88ce69c9be7a4bee58cbae58d8fe8b083e8a7a3e586b3e38082320c343530313035303033303033420c3237e6a08b33e58d95e5858352150a06e69d8ee59b9b120b313339303030353734383168017009800101');
INSERT INTO events (id, type, subject, region_code, time_us, payload)
  VALUES ('pgb' || :client_id || '-' || :r, 'jiayuan.demand.v1.DemandSubmitted', 'demands/pgb' || :client_id || '-' || :r,
    '450105003003', :r, '\x0a2264656d616e64732f7261777478303030303030303030303030303030303537343831100118012218e88081e4babae99c80e8a681e6a5bce6a2afe689b6e6898b2a4ee5b185e6b091e58f8de698a0efbc9ae6a5bce98193e59e83e59cbee6a1b6e6bba1e4ba86e6b2a1e4babae6b885e79086efbc8ce5b88ce69c9be7a4bee58cbae58d8fe8b083e8a7a3e586b3e38082320c343530313035303033303033420c3237e6a08b33e58d95e5858352150a06e69d8ee59b9b120b313339303030353734383168017009800101');
INSERT INTO audit_records (id, time_us, kind, subject, roles, method, resource, region_code, outcome, paths, detail)
  VALUES ('pgb' || :client_id || '-' || :r, :r, 'write', 'bench-raw', 'community_staff', '/jiayuan.demand.v1.DemandService/CreateDemand',
    'demands/pgb' || :client_id || '-' || :r, '450105003003', 'OK', '', '');
COMMIT;
\endpipeline
