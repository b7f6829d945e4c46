"""The local world: moto as AWS, a fleet of real app processes, a stand-in SSM agent, a front
door that does what an ALB does with what moto stores, and the status bucket as a website.

Nothing here is deployed. It lets ``make demo``, the integration tests and the
benchmarks run the real Lambda code against something that behaves like AWS::

    from sandbox.fleet import Fleet
    from sandbox.moto_server import MotoServer

    with MotoServer() as aws, Fleet([("blue-1", "blue")]) as fleet:
        aws.apply_env()
        ...
"""
