#!/usr/bin/env python3
"""EKS benchmark: CreateCluster -> DescribeCluster says ACTIVE, then DeleteCluster -> gone,
N times against a running `wharf up` (DIR/aws.env gives the endpoint and credentials).
Uses botocore (the aws CLI's library) so CLI start-up is not measured.

    python3 scripts/bench-eks.py DIR [RUNS]
"""
import json, os, shlex, statistics, sys, time

import botocore.session


def load_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = shlex.split(v)[0]
    return env


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    d = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    env = load_env(os.path.join(d, "aws.env"))
    s = botocore.session.get_session()
    kw = dict(region_name=env["AWS_DEFAULT_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
              aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
              verify=env.get("AWS_CA_BUNDLE", True))
    iam, eks, ec2 = s.create_client("iam", **kw), s.create_client("eks", **kw), s.create_client("ec2", **kw)
    subnets = [n["SubnetId"] for n in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    try:
        role = iam.get_role(RoleName="bench-eks")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="bench-eks", AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    active, deleted = [], []
    for i in range(runs):
        name = f"bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
        while eks.describe_cluster(name=name)["cluster"]["status"] != "ACTIVE":
            time.sleep(0.005)
        active.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        eks.delete_cluster(name=name)
        while True:
            try:
                eks.describe_cluster(name=name)
            except eks.exceptions.ResourceNotFoundException:
                break
            time.sleep(0.005)
        deleted.append(time.perf_counter() - t0)
    for label, xs in (("create-cluster -> ACTIVE", active), ("delete-cluster -> gone", deleted)):
        print(f"{label}: n={len(xs)} p50={pct(xs, 50)*1000:.0f} ms p99={pct(xs, 99)*1000:.0f} ms max={max(xs)*1000:.0f} ms")


if __name__ == "__main__":
    main()
