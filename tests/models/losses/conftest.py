import pytest
import torch


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    # the tensors here are tiny: extra threads only add start-up cost and,
    # on a busy machine, contention
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
