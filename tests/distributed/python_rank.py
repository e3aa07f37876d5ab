"""One Python torch.distributed rank of DistributedTest.PythonRankJoinsCppRank: joins the default group
with init_process_group("gloo") from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (env://), exchanges what
rank_helper.cpp does (average as all_reduce SUM of the packed tensors / W plus the poison flag,
broadcast from rank 0, sum of float64) and prints the same lines."""
import datetime
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=float(os.environ.get("HELPER_TIMEOUT", "30"))))
r = float(dist.get_rank())
w = dist.get_world_size()
# img2img packs the tensors of one average into one buffer with a trailing poison flag (0 = fine).
packed = torch.tensor([r + 1, 10 * (r + 1), r, 2 * r, 0.0])
dist.all_reduce(packed)
a = packed[:4] / w
print("average %.6f %.6f %.6f %.6f" % tuple(a.tolist()))
c = torch.full((3,), r)
dist.broadcast(c, 0)
print("broadcast %.6f %.6f %.6f" % tuple(c.tolist()))
s = torch.tensor([r, 1.0], dtype=torch.float64)
dist.all_reduce(s)
print("sum %.6f %.6f" % tuple(s.tolist()), flush=True)
dist.destroy_process_group()
