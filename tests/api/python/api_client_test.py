#!/usr/bin/env python3
"""Drives the nest.v1 API from Python, with stubs generated at test time
from the project's .proto files (Debian's python3-grpc-tools) and Debian's
python3-grpcio, against api_test_server. Proves the API is usable without
our C++ stubs.

Usage: api_client_test.py --server PATH/api_test_server --proto-root api/proto
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ARGS = None


def generate_stubs(proto_root, out_dir):
    from grpc_tools import protoc
    import grpc_tools
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    protos = sorted(glob.glob(os.path.join(proto_root, "nest", "v1", "*.proto")))
    if not protos:
        raise RuntimeError("no .proto files under " + proto_root)
    rc = protoc.main(["protoc", "-I" + proto_root, "-I" + well_known,
                      "-I/usr/include", "--python_out=" + out_dir,
                      "--grpc_python_out=" + out_dir] + protos)
    if rc != 0:
        raise RuntimeError("protoc failed with %d" % rc)


class NestApiFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc
        cls.tmp = tempfile.mkdtemp(prefix="nest-py-")
        generate_stubs(ARGS.proto_root, cls.tmp)
        sys.path.insert(0, cls.tmp)
        cls.server = subprocess.Popen([ARGS.server], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        line = cls.server.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            cls.server.kill()
            raise RuntimeError("api_test_server said %r" % line)
        cls.channel = grpc.insecure_channel("127.0.0.1:" + line[1])
        grpc.channel_ready_future(cls.channel).result(timeout=20)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stdin.close()  # the server exits when stdin closes
        try:
            cls.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.server.kill()
            cls.server.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_group_and_workload_round_trip_and_bad_request(self):
        import grpc
        from nest.v1 import common_pb2
        from nest.v1 import vm_group_pb2, vm_group_pb2_grpc
        from nest.v1 import workload_pb2, workload_pb2_grpc

        groups = vm_group_pb2_grpc.VmGroupServiceStub(self.channel)
        workloads = workload_pb2_grpc.WorkloadServiceStub(self.channel)

        spec = vm_group_pb2.VmGroupSpec(
            shape=vm_group_pb2.VmShape(vcpus=1, memory="256Mi"),
            min_vms=1, max_vms=3)
        created = groups.CreateVmGroup(
            vm_group_pb2.CreateVmGroupRequest(name="web", spec=spec),
            timeout=20)
        self.assertEqual(created.group.meta.name, "web")
        self.assertEqual(created.group.meta.generation, 1)

        wspec = workload_pb2.WorkloadSpec(
            image="hello", group="web", replicas=3,
            resources=common_pb2.Resources(cpu="100m", memory="32Mi"),
            restart_policy=workload_pb2.RESTART_POLICY_ON_FAILURE)
        w = workloads.CreateWorkload(
            workload_pb2.CreateWorkloadRequest(
                name="hello", spec=wspec,
                options=common_pb2.WriteOptions(request_id="py-1")),
            timeout=20)
        self.assertEqual(w.workload.spec.replicas, 3)
        # The same request id again replays the same response.
        again = workloads.CreateWorkload(
            workload_pb2.CreateWorkloadRequest(
                name="hello", spec=wspec,
                options=common_pb2.WriteOptions(request_id="py-1")),
            timeout=20)
        self.assertEqual(again.SerializeToString(), w.SerializeToString())

        listed = groups.ListVmGroups(vm_group_pb2.ListVmGroupsRequest(),
                                     timeout=20)
        self.assertEqual([g.meta.name for g in listed.groups], ["web"])
        listed = workloads.ListWorkloads(
            workload_pb2.ListWorkloadsRequest(), timeout=20)
        self.assertEqual([x.meta.name for x in listed.workloads], ["hello"])
        self.assertEqual(listed.workloads[0].spec.resources.memory, "32Mi")

        bad = workload_pb2.WorkloadSpec(
            image="hello", group="web", replicas=-2,
            resources=common_pb2.Resources(cpu="100m", memory="lots"))
        with self.assertRaises(grpc.RpcError) as caught:
            workloads.CreateWorkload(
                workload_pb2.CreateWorkloadRequest(name="bad", spec=bad),
                timeout=20)
        err = caught.exception
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT)
        details = dict(err.trailing_metadata()).get("grpc-status-details-bin")
        self.assertIsNotNone(details, "no grpc-status-details-bin trailer")
        status = common_pb2.RpcStatus.FromString(details)
        self.assertEqual(status.code, grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertEqual(len(status.details), 1)
        self.assertEqual(status.details[0].type_url,
                         "type.googleapis.com/google.rpc.BadRequest")
        violations = common_pb2.BadRequest.FromString(status.details[0].value)
        fields = {v.field: v.description for v in violations.field_violations}
        self.assertEqual(set(fields), {"spec.replicas", "spec.resources.memory"})
        self.assertIn("-2", fields["spec.replicas"])


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--proto-root", required=True)
    ARGS, rest = parser.parse_known_args()
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as e:
        print("python3-grpcio and python3-grpc-tools are required "
              "(scripts/install-deps.sh): %s" % e, file=sys.stderr)
        return 1
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
